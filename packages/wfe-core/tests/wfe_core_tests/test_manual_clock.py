"""ManualClock: time moves only when advanced, and sleepers wake at their deadlines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.protocols import Clock
from wfe_core.testing import ManualClock

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_now_stands_still_at_the_start() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now() == START
    assert isinstance(clock, Clock)


def test_default_start_is_the_current_utc_time() -> None:
    before = datetime.now(UTC)
    clock = ManualClock()
    assert before <= clock.now() <= datetime.now(UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2024, 1, 1))


async def test_sleep_returns_only_once_advanced_to_its_deadline() -> None:
    clock = ManualClock(START)
    sleeper = asyncio.create_task(clock.sleep(60))
    await clock.wait_for_sleepers(1)
    assert clock.sleepers == 1
    await clock.advance(timedelta(seconds=59))
    assert not sleeper.done()
    await clock.advance(timedelta(seconds=1))
    assert sleeper.done()
    assert clock.sleepers == 0
    assert clock.now() == START + timedelta(seconds=60)


async def test_advance_wakes_sleepers_in_deadline_order_at_their_deadlines() -> None:
    clock = ManualClock(START)
    woken: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woken.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("ten", 10)), asyncio.create_task(sleeper("five", 5))]
    await clock.wait_for_sleepers(2)
    await clock.advance(timedelta(seconds=20))
    assert woken == [("five", START + timedelta(seconds=5)), ("ten", START + timedelta(seconds=10))]
    assert clock.now() == START + timedelta(seconds=20)
    await asyncio.gather(*tasks)


async def test_a_periodic_sleeper_wakes_once_per_period() -> None:
    clock = ManualClock(START)
    ticks: list[datetime] = []

    async def every_second() -> None:
        for _ in range(5):
            await clock.sleep(1)
            ticks.append(clock.now())

    task = asyncio.create_task(every_second())
    await clock.wait_for_sleepers(1)
    await clock.advance(timedelta(seconds=10))
    assert ticks == [START + timedelta(seconds=n) for n in range(1, 6)]
    await task


async def test_sleep_of_zero_returns_without_advancing() -> None:
    clock = ManualClock(START)
    await asyncio.wait_for(clock.sleep(0), timeout=1)
    await asyncio.wait_for(clock.sleep(-3), timeout=1)
    assert clock.now() == START


async def test_a_cancelled_sleep_is_not_counted() -> None:
    clock = ManualClock(START)
    sleeper = asyncio.create_task(clock.sleep(30))
    await clock.wait_for_sleepers(1)
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert clock.sleepers == 0
    await clock.advance(timedelta(minutes=1))


async def test_wait_for_sleepers_waits_for_a_late_sleeper() -> None:
    clock = ManualClock(START)

    async def late() -> None:
        await asyncio.sleep(0.05)
        await clock.sleep(3600)

    task = asyncio.create_task(late())
    await clock.wait_for_sleepers(1, timeout=2.0)
    await clock.advance(timedelta(hours=1))
    await asyncio.wait_for(task, timeout=1)


async def test_wait_for_sleepers_times_out_naming_the_count() -> None:
    clock = ManualClock(START)
    with pytest.raises(TimeoutError, match="0 pending"):
        await clock.wait_for_sleepers(1, timeout=0.05)


async def test_time_only_moves_forward() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="forward"):
        await clock.advance(timedelta(seconds=-1))
