"""The search conformance suite against MemorySearchIndex."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.providers.memory import MemorySearchIndex
from wfe_core.testing import SearchSuite


class TestMemorySearchIndex(SearchSuite):
    @pytest.fixture
    async def search_index(self) -> AsyncIterator[MemorySearchIndex]:
        index = MemorySearchIndex.from_url("memory://")
        await index.start()
        yield index
        await index.stop()
