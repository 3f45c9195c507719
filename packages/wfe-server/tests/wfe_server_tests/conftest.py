"""Fixtures of the server tests: a real ``wfe serve --http`` process per store (SQLite; PostgreSQL with
WFE_TEST_POSTGRES_URL, in a schema of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("httpx")  # a test tool (requirements-dev.txt), not a dependency of the server
    from .serving import drop_schema, serve, store_url

    tmp: Path = tmp_path_factory.mktemp(f"serve-{request.param}")
    store, schema = store_url(request.param, tmp)
    try:
        yield from serve(tmp, store)
    finally:
        if schema is not None:
            drop_schema(schema)
