"""Schedule: a definition started on a cron expression or a fixed interval, kept in the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

Overlap = Literal["skip", "allow", "terminate_previous"]
"""What a firing does while the schedule's previous run has not ended: start nothing, start another run
beside it, or terminate it and start."""

CatchUp = Literal["latest", "all", "none"]
"""Which of the firings missed while every host was down run: only the latest, each of them, or none."""


class Schedule(BaseModel):
    """A schedule as stored: its settings, the next tick not fired yet and the last run it started."""

    schedule_id: str
    definition_id: str
    version: int | None = None
    data: Any = None
    """Each run's data, as JSON."""
    cron: str | None = None
    """A five-field cron expression, read in ``timezone``."""
    every: timedelta | None = None
    """A fixed interval, counted from the time the schedule was added."""
    overlap: Overlap = "skip"
    catch_up: CatchUp = "latest"
    timezone: str = "UTC"
    next_fire_time: datetime
    """The earliest tick not fired yet (UTC)."""
    last_workflow_id: str | None = None
    """The id of the run the latest firing started, if any."""

    def same_timing(self, other: Schedule) -> bool:
        """True when both tick at the same times (same cron or interval, same timezone)."""
        return (self.cron, self.every, self.timezone) == (other.cron, other.every, other.timezone)


def merge_schedule(existing: Schedule | None, new: Schedule) -> Schedule:
    """What ``ScheduleStore.put_schedule`` stores: ``new``, keeping the existing schedule's next tick and last
    run when its timing did not change (a host re-adding its schedules at start keeps the missed ticks)."""
    if existing is None or not existing.same_timing(new):
        return new
    return new.model_copy(
        update={"next_fire_time": existing.next_fire_time, "last_workflow_id": existing.last_workflow_id}
    )
