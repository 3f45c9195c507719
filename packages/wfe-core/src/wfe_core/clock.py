"""The system clock: real UTC time and asyncio sleeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial


class SystemClock:
    """Wall-clock time (UTC) and ``asyncio.sleep``."""

    now: Callable[[], datetime] = staticmethod(partial(datetime.now, UTC))
    """The current time in UTC (``datetime.now(UTC)``, called without a Python frame of its own: the engine reads
    the clock several times a pass)."""

    async def sleep(self, seconds: float) -> None:
        import asyncio  # not at the top: a definition's steps hold a clock without ever running

        await asyncio.sleep(max(0.0, seconds))
