"""In-process wake-ups: enqueue an id when its time comes (the poller covers what a dead host forgot)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from wfe_core.protocols import Clock

log = logging.getLogger("wfe.timers")


class WakeupTimers:
    def __init__(self, clock: Clock, fire: Callable[[str, str], Awaitable[None]]) -> None:
        self._clock = clock
        self._fire = fire
        self._timers: dict[tuple[str, str], tuple[datetime, asyncio.Task[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        """Every timer task not finished yet, pending or firing: ``close`` waits for them."""

    def schedule(self, kind: str, item_id: str, at: datetime) -> None:
        """Fire ``(kind, item_id)`` at ``at``; an earlier pending wake-up for the same item wins."""
        key = (kind, item_id)
        existing = self._timers.get(key)
        if existing is not None:
            if existing[0] <= at and not existing[1].done():
                return
            existing[1].cancel()
        delay = (at - self._clock.now()).total_seconds()
        task = asyncio.create_task(self._run(key, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._timers[key] = (at, task)

    async def _run(self, key: tuple[str, str], delay: float) -> None:
        try:
            if delay > 0:
                await self._clock.sleep(delay)
        finally:
            current = self._timers.get(key)
            if current is not None and current[1] is asyncio.current_task():
                del self._timers[key]
        try:
            await self._fire(*key)
        except Exception:
            log.exception("wake-up of %s %s failed; the poller will retry", *key)

    async def close(self) -> None:
        """Cancel every wake-up, those firing now included, and wait until they are gone."""
        self._timers.clear()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
