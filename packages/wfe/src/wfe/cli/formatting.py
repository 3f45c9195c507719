"""How times and waits read on the command line."""

from __future__ import annotations

from datetime import datetime


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``2m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_wait(seconds: float) -> str:
    """A wait as a countdown says it: ``500ms``, ``4s``, ``2m05s``."""
    if seconds < 0.95:
        return f"{round(seconds * 1000)}ms"
    if seconds < 59.5:
        return f"{round(seconds)}s"
    return format_duration(seconds)


def timestamp(value: datetime | None) -> str:
    """A stored time for tables: local time to the second, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
