"""The test matrix. `nox` runs lint, typecheck, the unit tests on every Python >= 3.11 found, and the
integration tests against the services named by WFE_TEST_POSTGRES_URL / WFE_TEST_VALKEY_URL /
WFE_TEST_OPENSEARCH_URL."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "unit", "integration"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["wfe-core", "wfe", "wfe-yaml", "wfe-sqlite", "wfe-postgres", "wfe-valkey", "wfe-opensearch"]
SERVICE_MARKERS = "postgres or valkey or opensearch or slow"


def _pythons() -> list[str]:
    """Every CPython >= 3.11 on PATH or under pyenv (3.12 / 3.13 are often installed but not on PATH).

    pyenv's shims are skipped: a shim answers for versions that are not selected and then fails."""
    found: dict[str, str] = {}
    for minor in range(11, 20):
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
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
