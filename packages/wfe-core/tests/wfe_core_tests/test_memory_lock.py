"""The lock conformance suite against MemoryLock, plus its URL handling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.errors import ProviderError
from wfe_core.providers.memory import MemoryLock
from wfe_core.testing import LockSuite


class TestMemoryLock(LockSuite):
    @pytest.fixture
    async def lock(self) -> AsyncIterator[MemoryLock]:
        provider = MemoryLock()
        await provider.start()
        yield provider
        await provider.stop()


def test_from_url_accepts_memory_scheme() -> None:
    assert isinstance(MemoryLock.from_url("memory://"), MemoryLock)


def test_from_url_rejects_other_schemes_naming_the_fix() -> None:
    with pytest.raises(ProviderError, match="memory://"):
        MemoryLock.from_url("redis://localhost")
