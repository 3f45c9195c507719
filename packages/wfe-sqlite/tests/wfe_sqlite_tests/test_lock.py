"""SQLite-specific lock behaviour: fences outlive the process's connection, expiry follows the given clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from wfe_core.testing import ManualClock
from wfe_sqlite import SqliteLock


async def test_fences_keep_growing_after_the_file_is_closed_and_reopened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfe.db'}"
    lock = SqliteLock.from_url(url)
    first = await lock.acquire("orders", timedelta(seconds=30))
    assert first is not None
    await lock.release(first)
    await lock.stop()
    assert not lock.database.is_open

    reopened = SqliteLock.from_url(url)
    second = await reopened.acquire("orders", timedelta(seconds=30))
    assert second is not None and second.fence > first.fence
    await reopened.stop()


async def test_lease_expiry_follows_the_injected_clock() -> None:
    clock = ManualClock()
    lock = SqliteLock.from_url("sqlite://:memory:", clock=clock)
    lease = await lock.acquire("orders", timedelta(hours=1))
    assert lease is not None
    await clock.advance(timedelta(minutes=59))
    assert await lock.acquire("orders", timedelta(hours=1)) is None
    await clock.advance(timedelta(minutes=2))
    taken_over = await lock.acquire("orders", timedelta(hours=1))
    assert taken_over is not None and taken_over.fence > lease.fence
    assert await lock.renew(lease, timedelta(hours=1)) is None
    await lock.stop()
