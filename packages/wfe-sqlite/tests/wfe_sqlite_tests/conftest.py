"""Fixtures: every test gets its own database, either a temporary file or a private in-memory one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from wfe_sqlite import SqliteDatabase, SqlitePersistence

DatabaseFactory = Callable[[], SqliteDatabase]


@pytest.fixture(params=["file", "memory"])
def database_factory(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseFactory:
    """Makes the test's database: a file under ``tmp_path``, or a private ``:memory:`` database.

    The in-memory one is a fresh ``SqliteDatabase`` object (not the per-URL shared one), so tests never see
    each other's data.
    """
    if request.param == "file":
        path = str(tmp_path / "wfe.db")
        return lambda: SqliteDatabase.shared(path)
    memory = SqliteDatabase(":memory:")

    def make() -> SqliteDatabase:
        memory.retain()
        return memory

    return make


@pytest.fixture
async def persistence(database_factory: DatabaseFactory) -> AsyncIterator[SqlitePersistence]:
    """A store with its tables made on the test's database; closed after the test."""
    provider = SqlitePersistence(database_factory(), retained=True)
    await provider.ensure_store_exists()
    yield provider
    await provider.close()
