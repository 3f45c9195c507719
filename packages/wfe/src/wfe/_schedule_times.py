"""When a schedule ticks: cron expressions (read by croniter, in the schedule's timezone) and fixed intervals
(anchored at the Unix epoch, so every host computes the same ticks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]

from wfe_core.errors import ConfigurationError
from wfe_core.models import Schedule

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_timing(cron: str | None, every: timedelta | None, timezone: str) -> None:
    """Raise ValueError naming the fix when the timing of a schedule is not usable."""
    if (cron is None) == (every is None):
        raise ConfigurationError(
            "a schedule needs exactly one of cron= (e.g. '0 3 * * *') or every= (a timedelta)"
        )
    if cron is not None and (not isinstance(cron, str) or not croniter.is_valid(cron)):
        raise ConfigurationError(
            f"cron {cron!r} is not a valid cron expression: five fields, e.g. '0 3 * * *'"
        )
    if every is not None and (not isinstance(every, timedelta) or every <= timedelta(0)):
        raise ConfigurationError(f"every must be a positive timedelta, not {every!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"timezone {timezone!r} is unknown: use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from exc


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def next_tick(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after ``after`` (UTC)."""
    if schedule.every is not None:
        step = _micros(schedule.every)
        return _EPOCH + timedelta(microseconds=(_micros(after - _EPOCH) // step + 1) * step)
    assert schedule.cron is not None
    local = after.astimezone(ZoneInfo(schedule.timezone))
    nxt: datetime = croniter(schedule.cron, local).get_next(datetime)
    return nxt.astimezone(UTC)


def last_tick(schedule: Schedule, now: datetime) -> datetime:
    """The latest tick at or before ``now`` (UTC)."""
    if schedule.every is not None:
        step = _micros(schedule.every)
        return _EPOCH + timedelta(microseconds=_micros(now - _EPOCH) // step * step)
    assert schedule.cron is not None
    local = now.astimezone(ZoneInfo(schedule.timezone))
    prev: datetime = croniter(schedule.cron, local).get_prev(datetime)
    prev = prev.astimezone(UTC)
    following = next_tick(schedule, prev)
    return following if following <= now else prev


def run_id(schedule_id: str, tick: datetime) -> str:
    """The id of the run a tick starts: the same on every host, so the tick starts one instance."""
    tick = tick.astimezone(UTC)
    text = tick.strftime("%Y-%m-%dT%H:%M:%S")
    if tick.microsecond:
        text += f".{tick.microsecond:06d}"
    return f"{schedule_id}@{text}Z"
