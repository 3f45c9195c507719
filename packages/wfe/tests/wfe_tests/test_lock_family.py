"""One lock family per store: a host given another lock provider than the store's first host refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfe import HostError, WorkflowHostBuilder
from wfe_core.providers.memory import MemoryLock, MemoryPersistence


async def test_a_host_with_another_lock_family_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    first = WorkflowHostBuilder().use_persistence(url).build()
    await first.start()
    try:
        stranger = WorkflowHostBuilder().use_persistence(url).use_lock(MemoryLock()).build()
        with pytest.raises(HostError) as refused:
            await stranger.start()
        message = str(refused.value)
        assert "wfe_sqlite" in message and "wfe_core" in message and "use_lock" in message
        same = WorkflowHostBuilder().use_persistence(url).build()
        await same.start()  # the same family starts as before
        await same.stop()
    finally:
        await first.stop()


async def test_the_first_host_records_the_family_once() -> None:
    store = MemoryPersistence()
    assert await store.record_lock_family("wfe_valkey") == "wfe_valkey"
    assert await store.record_lock_family("wfe_postgres") == "wfe_valkey"
