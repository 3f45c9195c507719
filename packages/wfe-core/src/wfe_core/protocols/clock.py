"""The clock protocol: the engine reads time and sleeps only through it, so tests can control time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of timezone-aware UTC time and of sleeps measured in that time."""

    def now(self) -> datetime:
        """The current time (UTC, timezone-aware)."""

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` of this clock's time have passed."""
