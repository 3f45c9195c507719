"""The system clock: real UTC time and asyncio sleeps."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time (UTC) and ``asyncio.sleep``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        import asyncio  # not at the top: a definition's steps hold a clock without ever running

        await asyncio.sleep(max(0.0, seconds))
