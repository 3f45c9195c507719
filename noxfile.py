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
nox.options.sessions = [
    "lint",
    "typecheck",
    "unit",
    "lowest",
    "newest",
    "integration",
    "wheels",
]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = [
    "wfe-core",
    "wfe",
    "wfe-yaml",
    "wfe-sqlite",
    "wfe-postgres",
    "wfe-valkey",
    "wfe-opensearch",
    "wfe-server",
]
SERVICE_MARKERS = "postgres or valkey or opensearch or slow"
PYTHONS = ["3.11", "3.12", "3.13"]
LOWEST_PYTHON, NEWEST_PYTHON = PYTHONS[0], PYTHONS[-1]
ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"
# The test tools, without the packages: the lowest and newest sessions install these at the locked versions.
TEST_TOOLS = [
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "pytest-xdist",
    "hypothesis",
    "opentelemetry-sdk",
    "packaging",
    "httpx",
    "pydot",
]


def _find_pythons() -> None:
    """Put pyenv's interpreters on PATH, so `unit-3.12` finds python3.12 where pyenv installed it but did
    not select it. pyenv's shims are not used: a shim answers for versions that are not selected and fails."""
    extra = []
    for version in PYTHONS:
        if shutil.which(f"python{version}") and "/shims/" not in str(shutil.which(f"python{version}")):
            continue
        found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
        if found:
            extra.append(str(Path(found[-1]).parent))
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_find_pythons()


def _install(session: nox.Session) -> None:
    # requirements-dev.txt reads its versions from constraints.txt (the lock).
    session.install("-r", "requirements-dev.txt")


def _editables() -> list[str]:
    return [f"-e{ROOT / 'packages' / package}" for package in PACKAGES] + [
        f"-e{ROOT / 'packages' / 'wfe-core'}[http]",
        f"-e{ROOT / 'packages' / 'wfe'}[otel]",
        f"-e{ROOT / 'packages' / 'wfe-yaml'}[js]",
    ]


def _tool_constraints(session: nox.Session) -> Path:
    """The lock's lines for the test tools and what they need, none of the packages' own dependencies: the
    lowest and newest sessions choose those themselves."""
    path = Path(session.create_tmp()) / "tool-constraints.txt"
    wanted = {name.lower() for name in TEST_TOOLS}
    lines = [
        line
        for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines()
        if "==" in line and line.split("==")[0].strip().lower() in wanted
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _unit_tests(session: nox.Session) -> None:
    # One pytest worker per core (pytest-xdist): every unit test isolates its files, stores and processes, so
    # they run side by side; `-- -n0` runs them in one process.
    session.run(
        "pytest",
        "-m",
        f"not ({SERVICE_MARKERS})",
        "-n",
        "auto",
        *session.posargs,
        env={"WFE_TEST_STORES": "memory,sqlite"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-c", str(CONSTRAINTS), "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict with the locked versions."""
    _install(session)
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES])


@nox.session(python=PYTHONS)
def unit(session: nox.Session) -> None:
    """Everything that needs no external service, with the locked versions: `nox -s unit-3.12`."""
    _install(session)
    _unit_tests(session)


@nox.session(python=LOWEST_PYTHON, venv_backend="uv", reuse_venv=False)
def lowest(session: nox.Session) -> None:
    """The unit tests with the lowest version of every dependency the packages' ranges allow, on the lowest
    Python: a range's lower end that does not work shows here, not on a user's machine."""
    session.install(
        "--resolution", "lowest-direct", *_editables(), *TEST_TOOLS, "-c", str(_tool_constraints(session))
    )
    session.run("uv", "pip", "list", "--python", session.virtualenv.location, silent=False, external=True)
    _unit_tests(session)


@nox.session(python=NEWEST_PYTHON, venv_backend="uv", reuse_venv=False)
def newest(session: nox.Session) -> None:
    """mypy --strict and the unit tests with the newest release of every dependency, on the newest Python:
    what `pip install wfe` gives a user today, whatever the lock says."""
    session.install("--upgrade", *_editables(), *TEST_TOOLS, "mypy", "types-PyYAML")
    session.run("uv", "pip", "list", "--python", session.virtualenv.location, silent=False, external=True)
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES])
    _unit_tests(session)


@nox.session
def integration(session: nox.Session) -> None:
    """PostgreSQL, Valkey and OpenSearch providers, multi-host and crash tests (real services, real processes)."""
    _install(session)
    # Two pytest workers; the multi-process tests (marked slow) all go to one of them, one after another.
    session.run(
        "pytest",
        "-m",
        SERVICE_MARKERS,
        "-n",
        "2",
        "--dist",
        "loadgroup",
        *session.posargs,
        env={"WFE_TEST_STORES": "memory,postgres"},
    )


@nox.session(python=LOWEST_PYTHON, venv_backend="uv")
def lock(session: nox.Session) -> None:
    """Refresh constraints.txt, the lock every other session and requirements-dev.txt install from: the
    newest versions that requirements-dev.txt's ranges allow, for every Python the matrix runs."""
    source = ROOT / ".lock-input.txt"
    lines = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    source.write_text(
        "\n".join(line for line in lines if not line.startswith("-c ")) + "\n", encoding="utf-8"
    )
    try:
        session.run(
            "uv",
            "pip",
            "compile",
            str(source.name),
            "--universal",
            "--python-version",
            LOWEST_PYTHON,
            "--upgrade",
            "--custom-compile-command",
            "nox -s lock",
            "--no-annotate",
            *[arg for package in PACKAGES for arg in ("--no-emit-package", package)],
            "--output-file",
            str(CONSTRAINTS.name),
            external=True,
        )
    finally:
        source.unlink(missing_ok=True)


DIST = ROOT / "dist"
# What a user installs; the wheels session checks that this resolves from dist/ plus PyPI alone.
WHEEL_EXTRAS = "postgres,valkey,opensearch,yaml,otel,sqlite,server"


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
    session.install("-c", str(CONSTRAINTS), "uv")
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob("wfe*"):
        old.unlink()
    for package in PACKAGES:
        # Each package directory builds on its own (sdist, then the wheel from that sdist), as a release does.
        session.run("uv", "build", "--quiet", "--out-dir", str(DIST), str(ROOT / "packages" / package))


@nox.session
def build(session: nox.Session) -> None:
    """The wheel and sdist of all eight packages, into dist/."""
    _build_all(session)
    session.log("built: " + ", ".join(sorted(path.name for path in DIST.glob("wfe*"))))


@nox.session(reuse_venv=False)
def wheels(session: nox.Session) -> None:
    """Install the built wheels into a fresh venv and test the install from outside the source tree; then run
    every install command of README.md and docs/ in a clean venv of its own."""
    if any(_stale(package) for package in PACKAGES):
        _build_all(session)
    else:
        session.install("-c", str(CONSTRAINTS), "uv")
    # The siblings come from dist/ only (--no-index), so a same-named project on PyPI can never stand in for
    # them; the second install then takes only third-party dependencies from PyPI, the siblings being satisfied.
    session.install("--no-index", "--no-deps", *[str(_wheel(package)) for package in PACKAGES])
    version = _version("wfe")
    session.install(
        "--find-links",
        str(DIST),
        "-c",
        str(CONSTRAINTS),
        f"wfe[{WHEEL_EXTRAS}]=={version}",
        "pytest",
        "pytest-timeout",
    )
    # Outside the repository, so no source folder can be imported by accident; test_wheels.py asserts it.
    workdir = Path(tempfile.mkdtemp(prefix="wfe-wheels-"))
    try:
        shutil.copy(ROOT / "tests" / "test_wheels.py", workdir / "test_wheels.py")
        shutil.copy(ROOT / "tests" / "test_install_commands.py", workdir / "test_install_commands.py")
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
                "test_install_commands.py",
                *session.posargs,
                env={
                    "WFE_WHEELS_SOURCES": str(ROOT),
                    "WFE_INSTALL_SOURCES": str(ROOT),
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

    wfe runs from a venv of its own (the eight packages, editable); DBOS from another (.nox/bench-dbos), so it
    is never a dependency of wfe. Needs PostgreSQL and Valkey/Redis at WFE_BENCH_POSTGRES_URL /
    WFE_BENCH_VALKEY_URL (defaults: the local servers)."""
    venvs = ROOT / ".nox"
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    wfe_venv, dbos_venv = venvs / "bench-wfe", venvs / "bench-dbos"
    for venv, requirements in (
        (
            wfe_venv,
            [
                *[f"-e{ROOT / 'packages' / p}" for p in PACKAGES],
                *("mini-racer", "redis", "psycopg[binary]", "httpx", "-c", str(CONSTRAINTS)),
            ],
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
        # against an older commit, alternated with it in one run (the in-memory speed-up, CPU per step)
        session.run(wfe_python, "bench_baseline.py", "--uv", uv, external=True)
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
        session.run(wfe_python, "bench_schedules.py", external=True)
        for store in ("sqlite", "postgres"):
            session.run(wfe_python, "bench_server.py", "--store", store, external=True)
        session.run(wfe_python, "bench_recovery.py", external=True)
        # the figures that must not get worse, against the same older commit, alternated with it
        session.run(wfe_python, "bench_figures.py", "--uv", uv, external=True)
        session.run(wfe_python, "bench_startup.py", external=True)
        session.run(wfe_python, "report.py", external=True)
