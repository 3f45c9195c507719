"""The shared search conformance suite on SQLite FTS5 (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import SearchSuite
from wfe_sqlite import SqliteSearchIndex

from .conftest import DatabaseFactory


class TestSqliteSearchIndex(SearchSuite):
    @pytest.fixture
    async def search_index(self, database_factory: DatabaseFactory) -> AsyncIterator[SqliteSearchIndex]:
        index = SqliteSearchIndex(database_factory(), retained=True)
        await index.start()
        yield index
        await index.stop()
