"""The optional schedule store: durable schedules whose ticks hosts claim with a compare-and-set."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from wfe_core.models import Schedule


@runtime_checkable
class ScheduleStore(Protocol):
    """Optional for a ``PersistenceProvider``: schedules kept in the store, shared by every host on it.

    A host fires a schedule's tick by starting the run with an id derived from the schedule id and the tick
    (an idempotent start), then moving ``next_fire_time`` on with ``advance_schedule``; a host that crashes in
    between leaves the tick to the next host, which starts nothing twice. ``ScheduleSuite`` checks the
    contract."""

    async def put_schedule(self, schedule: Schedule) -> Schedule:
        """Insert the schedule, or replace the one with its id; return what is stored.

        When a schedule with this id exists with the same timing (``Schedule.same_timing``), its
        ``next_fire_time`` and ``last_workflow_id`` are kept (``merge_schedule``): re-adding a schedule at every
        start does not lose the ticks missed while the hosts were down. Atomic: concurrent puts of one id leave
        one of them stored whole."""

    async def get_schedule(self, schedule_id: str) -> Schedule:
        """The schedule; ``ScheduleNotFoundError`` when unknown."""

    async def list_schedules(self) -> list[Schedule]:
        """Every schedule, by id."""

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Remove the schedule; True when it existed."""

    async def advance_schedule(
        self, schedule_id: str, expected: datetime, next_fire_time: datetime, last_workflow_id: str | None
    ) -> bool:
        """Compare-and-set: when the stored ``next_fire_time`` equals ``expected``, set it to
        ``next_fire_time`` and ``last_workflow_id`` (None keeps the stored one) and return True; otherwise
        (another host advanced it, or the schedule is gone) change nothing and return False."""
