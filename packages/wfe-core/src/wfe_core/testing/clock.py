"""ManualClock: time that moves only when a test says so, so a one-hour delay is tested in milliseconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta

from wfe_core.errors import ConfigurationError

_SETTLE_ROUNDS = 20
"""Loop iterations ``advance`` yields after waking sleepers, so woken tasks run (and may sleep again)."""


class ManualClock:
    """A ``Clock`` for tests: ``now()`` stands still until ``advance`` moves it.

    ``sleep(seconds)`` returns once the clock has been advanced to its deadline. ``advance`` moves time
    in steps, stopping at each sleeper's deadline and letting the woken tasks run, so a task that sleeps in
    a loop wakes once per period and sees ``now()`` equal to its deadline. Use it with one event loop.

    Example::

        clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
        task = asyncio.create_task(reminder(clock))   # awaits clock.sleep(3600)
        await clock.wait_for_sleepers(1)
        await clock.advance(timedelta(hours=1))       # reminder wakes now, an hour later in clock time
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(UTC)
        elif start.tzinfo is None:
            raise ConfigurationError(
                "ManualClock needs a timezone-aware start: e.g. datetime(2024, 1, 1, tzinfo=UTC)"
            )
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._watchers: list[asyncio.Future[None]] = []

    def now(self) -> datetime:
        """The clock's current time (UTC, timezone-aware)."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has been advanced by ``seconds``; ``seconds <= 0`` just yields."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake_up: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._seq), wake_up))
        self._notify_watchers()
        # Cancelling the sleeping task cancels ``wake_up``; cancelled entries are dropped when they surface.
        await wake_up

    @property
    def sleepers(self) -> int:
        """How many ``sleep`` calls are pending."""
        return sum(1 for _, _, wake_up in self._sleepers if not wake_up.done())

    async def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``, waking each sleeper whose deadline is reached, in order."""
        if delta < timedelta(0):
            raise ValueError(f"a clock only moves forward: advance by a positive delta, not {delta}")
        target = self._now + delta
        while True:
            self._drop_cancelled()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            self._now = max(self._now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, wake_up = heapq.heappop(self._sleepers)
                if not wake_up.done():
                    wake_up.set_result(None)
            await self._settle()
        self._now = target
        await self._settle()

    # The ``timeout`` keyword is this helper's public API (seconds of real time), as in asyncio.wait_for.
    async def wait_for_sleepers(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (in real time, up to ``timeout`` seconds) until at least ``n`` sleeps are pending.

        Raises ``TimeoutError`` naming how many sleepers there were.
        """
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while self.sleepers < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.sleepers} pending sleep(s) after {timeout} s, expected {n}: check that the code "
                    "under test was given this clock and reaches its sleep"
                )
            watcher: asyncio.Future[None] = loop.create_future()
            self._watchers.append(watcher)
            try:
                await asyncio.wait([watcher], timeout=remaining)
            finally:
                watcher.cancel()
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

    def _notify_watchers(self) -> None:
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            if not watcher.done():
                watcher.set_result(None)

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    @staticmethod
    async def _settle() -> None:
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)
