"""Schedules: the host's verbs to add, remove, list and trigger them, and the loop that fires their ticks.

Every host on a store runs the loop. A tick is fired by starting the run whose id is derived from the
schedule id and the tick (an idempotent start: hosts firing the same tick start one instance), then moving the
schedule's next tick on with a compare-and-set in the store. A host that dies between the two leaves the tick
to the next host, which starts nothing twice: each tick starts at most one run, and one whenever a host that
has the definition is up."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args

from wfe._options import HostOptions
from wfe._registry import WorkflowRegistry
from wfe._schedule_times import check_timing, last_tick, next_tick, run_id
from wfe_core.data_limits import check_data
from wfe_core.errors import (
    ConfigurationError,
    HostError,
    ScheduleNotFoundError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
)
from wfe_core.models import CatchUp, Overlap, Schedule, to_jsonable
from wfe_core.protocols import Clock, PersistenceProvider, ScheduleStore
from wfe_core.transitions import ENDED

log = logging.getLogger("wfe.schedules")


class ScheduleVerbs:
    """The host's schedule verbs and firing loop (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    options: HostOptions
    clock: Clock
    registry: WorkflowRegistry
    _schedules_changed: asyncio.Event

    if TYPE_CHECKING:  # WorkflowHost's

        async def start_workflow(
            self,
            definition_id: str,
            version: int | None = None,
            data: Any = None,
            *,
            workflow_id: str | None = None,
            name: str | None = None,
            reference: str | None = None,
        ) -> str: ...

        async def terminate_workflow(self, workflow_id: str) -> bool: ...

    # -- verbs ---------------------------------------------------------------------------------------------

    def _schedule_store(self) -> ScheduleStore:
        store = self.persistence
        if not isinstance(store, ScheduleStore):
            raise HostError(
                f"{type(store).__name__} keeps no schedules: use the memory, SQLite or PostgreSQL persistence"
            )
        return store

    async def add_schedule(
        self,
        schedule_id: str,
        definition_id: str,
        *,
        cron: str | None = None,
        every: timedelta | None = None,
        version: int | None = None,
        data: Any = None,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "latest",
        timezone: str = "UTC",
    ) -> Schedule:
        """Add (or replace) a schedule that starts ``definition_id`` on ``cron`` or ``every``; return it.

        Re-adding a schedule with the same timing keeps its next tick, so a host that adds its schedules at
        every start does not lose the ticks missed while all hosts were down (``catch_up`` decides which of
        them run). A new or re-timed schedule first fires at its first tick after now."""
        if not isinstance(schedule_id, str) or not schedule_id.strip():
            raise ConfigurationError(f"schedule_id must be a non-empty str, not {schedule_id!r}")
        check_timing(cron, every, timezone)
        if overlap not in get_args(Overlap):
            raise ConfigurationError(f"overlap must be one of {get_args(Overlap)}, not {overlap!r}")
        if catch_up not in get_args(CatchUp):
            raise ConfigurationError(f"catch_up must be one of {get_args(CatchUp)}, not {catch_up!r}")
        self.registry.get(definition_id, version)  # a typo fails here, not at the first tick
        check_data(data)
        schedule = Schedule(
            schedule_id=schedule_id,
            definition_id=definition_id,
            version=version,
            data=to_jsonable(data),
            cron=cron,
            every=every,
            overlap=overlap,
            catch_up=catch_up,
            timezone=timezone,
            next_fire_time=self.clock.now(),
        )
        schedule.next_fire_time = next_tick(schedule, self.clock.now())
        stored = await self._schedule_store().put_schedule(schedule)
        self._schedules_changed.set()
        return stored

    async def remove_schedule(self, schedule_id: str) -> bool:
        """Remove the schedule (runs it started carry on); True when it existed."""
        return await self._schedule_store().delete_schedule(schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        """Every schedule of the store, by id, each with its next tick (``next_fire_time``)."""
        return await self._schedule_store().list_schedules()

    async def trigger_schedule(self, schedule_id: str) -> str:
        """Start a run of the schedule now, out of its timing, and return its id. ``overlap`` applies as
        "allow" except for "terminate_previous", which terminates the previous run first."""
        store = self._schedule_store()
        schedule = await store.get_schedule(schedule_id)
        if schedule.overlap == "terminate_previous":
            await self._terminate_previous(schedule)
        now = self.clock.now()
        workflow_id = await self._start_run(schedule, run_id(schedule_id, now) + "-trigger")
        await store.advance_schedule(
            schedule_id, schedule.next_fire_time, schedule.next_fire_time, workflow_id
        )
        return workflow_id

    # -- firing --------------------------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        """Fire due ticks, then sleep until the earliest next tick on the host's clock, or until this host adds a
        schedule, or for ``schedule_poll_interval`` of real time (to see schedules other hosts added): with no
        schedule, the loop leaves the clock alone (a ``ManualClock`` sees no sleeper of it)."""
        poll = self.options.schedule_poll_interval.total_seconds()
        while True:
            # Cleared before the scan, not after: a schedule added while the scan reads the store wakes the
            # next wait at once instead of being lost until the next poll.
            self._schedules_changed.clear()
            try:
                earliest = await self.fire_due_schedules()
            except Exception:
                log.exception("firing schedules failed; retrying in %ss", poll)
                earliest = None
            waits = [
                asyncio.ensure_future(asyncio.sleep(poll)),
                asyncio.ensure_future(self._schedules_changed.wait()),
            ]
            if earliest is not None:
                waits.append(asyncio.ensure_future(self._sleep_until(earliest)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    async def _sleep_until(self, deadline: datetime) -> None:
        # the time is read when the sleep starts: time that passed since the deadline was chosen is not slept
        await self.clock.sleep((deadline - self.clock.now()).total_seconds())

    async def fire_due_schedules(self) -> datetime | None:
        """Fire every due tick of every schedule once; return the earliest next tick (None: no schedule)."""
        store = self._schedule_store()
        now = self.clock.now()
        earliest: datetime | None = None
        for schedule in await store.list_schedules():
            if schedule.next_fire_time <= now:
                try:
                    await self._fire(store, schedule, now)
                    schedule = await store.get_schedule(schedule.schedule_id)
                except WorkflowNotRegisteredError:
                    log.debug("schedule %s: this host lacks its definition", schedule.schedule_id)
                    continue
                except ScheduleNotFoundError:
                    continue  # removed meanwhile
                except Exception:
                    log.exception("schedule %s failed to fire; retrying", schedule.schedule_id)
                    continue
            if earliest is None or schedule.next_fire_time < earliest:
                earliest = schedule.next_fire_time
        return earliest

    async def _fire(self, store: ScheduleStore, schedule: Schedule, now: datetime) -> None:
        first = schedule.next_fire_time
        if schedule.catch_up == "all":
            tick = first
            while tick <= now:
                following = next_tick(schedule, tick)
                workflow_id = await self._fire_tick(schedule, tick)
                if not await store.advance_schedule(schedule.schedule_id, tick, following, workflow_id):
                    return  # another host moved it on
                if workflow_id is not None:
                    schedule.last_workflow_id = workflow_id
                tick = following
            return
        latest = max(first, last_tick(schedule, now))
        late = now - latest > self.options.schedule_grace
        workflow_id = None
        if schedule.catch_up == "latest" or not late:
            workflow_id = await self._fire_tick(schedule, latest)
        else:
            log.info(
                "schedule %s: skipping ticks missed since %s (catch_up='none')", schedule.schedule_id, first
            )
        await store.advance_schedule(schedule.schedule_id, first, next_tick(schedule, now), workflow_id)

    async def _fire_tick(self, schedule: Schedule, tick: datetime) -> str | None:
        """Start the tick's run as ``overlap`` says; its id, or None when the tick starts nothing."""
        if schedule.overlap == "skip" and await self._previous_running(schedule):
            log.info(
                "schedule %s: previous run still running, skipping the tick %s", schedule.schedule_id, tick
            )
            return None
        if schedule.overlap == "terminate_previous":
            await self._terminate_previous(schedule)
        return await self._start_run(schedule, run_id(schedule.schedule_id, tick))

    async def _start_run(self, schedule: Schedule, workflow_id: str) -> str:
        return await self.start_workflow(
            schedule.definition_id, schedule.version, schedule.data, workflow_id=workflow_id
        )

    async def _previous_running(self, schedule: Schedule) -> bool:
        if schedule.last_workflow_id is None:
            return False
        try:
            previous = await self.persistence.get_workflow(schedule.last_workflow_id)
        except WorkflowNotFoundError:
            return False
        return previous.status not in ENDED

    async def _terminate_previous(self, schedule: Schedule) -> None:
        if await self._previous_running(schedule):
            assert schedule.last_workflow_id is not None
            await self.terminate_workflow(schedule.last_workflow_id)
