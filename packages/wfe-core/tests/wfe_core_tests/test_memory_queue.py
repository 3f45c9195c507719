"""The queue conformance suite against MemoryQueue, plus its URL handling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.providers.memory import MemoryQueue
from wfe_core.testing import QueueSuite


class TestMemoryQueue(QueueSuite):
    @pytest.fixture
    async def queue(self) -> AsyncIterator[MemoryQueue]:
        provider = MemoryQueue(visibility_timeout=self.visibility_timeout)
        await provider.start()
        yield provider
        await provider.stop()


def test_from_url_passes_options_to_the_constructor() -> None:
    queue = MemoryQueue.from_url("memory://", visibility_timeout=5.0)
    assert queue.visibility_timeout == 5.0
    assert queue.is_dequeue_blocking
