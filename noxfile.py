"""The test matrix. `nox` runs lint, typecheck, the unit tests on every Python >= 3.11 found, and the
integration tests against the services named by WFE_TEST_POSTGRES_URL / WFE_TEST_VALKEY_URL /
WFE_TEST_OPENSEARCH_URL."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "unit", "integration", "wheels"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["wfe-core", "wfe", "wfe-yaml", "wfe-sqlite", "wfe-postgres", "wfe-valkey", "wfe-opensearch"]
SERVICE_MARKERS = "postgres or valkey or opensearch or slow"


def _pythons() -> list[str]:
    """Every CPython >= 3.11 on PATH or under pyenv (3.12 / 3.13 are often installed but not on PATH).

    pyenv's shims are skipped: a shim answers for versions that are not selected and then fails."""
    found: dict[str, str] = {}
    for minor in range(11, 20):
        candidates = sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
        )
        on_path = shutil.which(f"python3.{minor}")
        if on_path and "/shims/" not in on_path:
            candidates.insert(0, on_path)
        for path in candidates:
            if os.access(path, os.X_OK):
                found[f"3.{minor}"] = path
                break
    return list(found.values()) or ["3.11"]


PYTHONS = _pythons()


def _install(session: nox.Session) -> None:
    session.install("-r", "requirements-dev.txt")


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session)
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES])


@nox.session(python=PYTHONS)
def unit(session: nox.Session) -> None:
    """Everything that needs no external service."""
    _install(session)
    session.run(
        "pytest", "-m", f"not ({SERVICE_MARKERS})", *session.posargs, env={"WFE_TEST_STORES": "memory,sqlite"}
    )


@nox.session
def integration(session: nox.Session) -> None:
    """PostgreSQL, Valkey and OpenSearch providers, multi-host and crash tests (real services, real processes)."""
    _install(session)
    session.run("pytest", "-m", SERVICE_MARKERS, *session.posargs, env={"WFE_TEST_STORES": "memory,postgres"})


ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
# What a user installs; the wheels session checks that this resolves from dist/ plus PyPI alone.
WHEEL_EXTRAS = "postgres,valkey,opensearch,yaml,otel,sqlite"


def _version(package: str) -> str:
    with open(ROOT / "packages" / package / "pyproject.toml", "rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def _wheel(package: str) -> Path:
    return DIST / f"{package.replace('-', '_')}-{_version(package)}-py3-none-any.whl"


def _sources(package: str) -> list[Path]:
    folder = ROOT / "packages" / package
    # Bytecode is written by every test run and never packaged: it must not make a wheel look stale.
    code = [path for path in (folder / "src").rglob("*") if "__pycache__" not in path.parts]
    return [folder / "pyproject.toml", folder / "README.md", *code]


def _stale(package: str) -> bool:
    """True when dist/ has no wheel of the package's version, or a source file is newer than it: the
    version stays the same between releases, so only the time tells an old wheel from a fresh one."""
    wheel = _wheel(package)
    if not wheel.exists():
        return True
    built = wheel.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _sources(package) if path.is_file())


def _build_all(session: nox.Session) -> None:
    session.install("uv")
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob("wfe*"):
        old.unlink()
    for package in PACKAGES:
        # Each package directory builds on its own (sdist, then the wheel from that sdist), as a release does.
        session.run("uv", "build", "--quiet", "--out-dir", str(DIST), str(ROOT / "packages" / package))


@nox.session
def build(session: nox.Session) -> None:
    """The wheel and sdist of all seven packages, into dist/."""
    _build_all(session)
    session.log("built: " + ", ".join(sorted(path.name for path in DIST.glob("wfe*"))))


@nox.session(reuse_venv=False)
def wheels(session: nox.Session) -> None:
    """Install the built wheels into a fresh venv and test the install from outside the source tree."""
    if any(_stale(package) for package in PACKAGES):
        _build_all(session)
    else:
        session.install("uv")
    # The siblings come from dist/ only (--no-index), so a same-named project on PyPI can never stand in for
    # them; the second install then takes only third-party dependencies from PyPI, the siblings being satisfied.
    session.install("--no-index", "--no-deps", *[str(_wheel(package)) for package in PACKAGES])
    version = _version("wfe")
    session.install(
        "--find-links", str(DIST), f"wfe[{WHEEL_EXTRAS}]=={version}", "pytest>=8", "pytest-timeout"
    )
    # Outside the repository, so no source folder can be imported by accident; test_wheels.py asserts it.
    workdir = Path(tempfile.mkdtemp(prefix="wfe-wheels-"))
    try:
        shutil.copy(ROOT / "tests" / "test_wheels.py", workdir / "test_wheels.py")
        # An ini of its own, so pytest never reads the workspace configuration (or its rootdir) above.
        (workdir / "pytest.ini").write_text(
            "[pytest]\nfilterwarnings = error\ntimeout = 120\naddopts = -ra -p no:cacheprovider\n"
        )
        with session.chdir(workdir):
            session.run(
                "python",
                "-m",
                "pytest",
                "-q",
                "test_wheels.py",
                *session.posargs,
                env={
                    "WFE_WHEELS_SOURCES": str(ROOT),
                    "WFE_WHEELS_VENV": str(session.virtualenv.location),
                    "PYTHONPATH": "",
                },
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


BENCH = ROOT / "bench"
DBOS_VERSION = "3.4.0"


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """wfe against DBOS and the hardware limits, in one run; writes bench/results/ and docs/benchmarks.md.

    wfe runs from a venv of its own (the seven packages, editable); DBOS from another (.nox/bench-dbos), so it
    is never a dependency of wfe. Needs PostgreSQL and Valkey/Redis at WFE_BENCH_POSTGRES_URL /
    WFE_BENCH_VALKEY_URL (defaults: the local servers)."""
    venvs = ROOT / ".nox"
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    wfe_venv, dbos_venv = venvs / "bench-wfe", venvs / "bench-dbos"
    for venv, requirements in (
        (
            wfe_venv,
            [*[f"-e{ROOT / 'packages' / p}" for p in PACKAGES], "mini-racer", "redis", "psycopg[binary]"],
        ),
        (dbos_venv, [f"dbos=={DBOS_VERSION}", "psycopg[binary]"]),
    ):
        if not (venv / "bin" / "python").exists():
            session.run(uv, "venv", "--quiet", "--python", "3.11", str(venv), external=True)
        session.run(
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            *requirements,
            external=True,
        )
    results = BENCH / "results"
    for old in results.glob("*.json"):
        old.unlink()
    wfe_python, dbos_python = str(wfe_venv / "bin" / "python"), str(dbos_venv / "bin" / "python")
    with session.chdir(BENCH):
        # best of 3 on both sides: the machine is shared, and one slow minute should not decide a ratio.
        # In-memory first: it is CPU-bound, and the databases' background work after the write-heavy runs
        # (checkpoints, WAL flushes) would share the machine's cores with it.
        session.run(wfe_python, "bench_throughput.py", "--stores", "memory", "--runs", "3", external=True)
        session.run(wfe_python, "bench_raw.py", external=True)
        session.run(
            wfe_python, "bench_throughput.py", "--stores", "sqlite,postgres", "--runs", "3", external=True
        )
        for store, samples in (("sqlite", "10"), ("postgres", "30")):
            session.run(
                dbos_python,
                "bench_dbos.py",
                *("--store", store, "--latency-samples", samples, "--rounds", "3"),
                external=True,
            )
        session.run(wfe_python, "bench_events.py", "--idle-stores", "", external=True)
        # each idle-scale store in a process of its own: RSS and latency not disturbed by the previous one
        for store in ("memory", "sqlite"):
            session.run(wfe_python, "bench_events.py", "--stores", "", "--idle-stores", store, external=True)
        session.run(wfe_python, "bench_loop.py", external=True)
        session.run(wfe_python, "bench_valkey.py", external=True)
        session.run(wfe_python, "bench_steps.py", external=True)
        session.run(wfe_python, "bench_js.py", "--runs", "100", external=True)
        session.run(wfe_python, "report.py", external=True)
