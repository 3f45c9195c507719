"""The ``ScheduleStore`` part of ``MemoryPersistence``."""

from __future__ import annotations

import threading
from datetime import datetime

from wfe_core.errors import ScheduleNotFoundError
from wfe_core.models import Schedule, merge_schedule


class MemorySchedules:
    """Schedules in a dict, copied on the way in and out; every change under the store's guard."""

    _guard: threading.Lock
    _schedules: dict[str, Schedule]

    async def put_schedule(self, schedule: Schedule) -> Schedule:
        with self._guard:
            stored = merge_schedule(self._schedules.get(schedule.schedule_id), schedule.model_copy(deep=True))
            self._schedules[schedule.schedule_id] = stored
            return stored.model_copy(deep=True)

    async def get_schedule(self, schedule_id: str) -> Schedule:
        with self._guard:
            stored = self._schedules.get(schedule_id)
            if stored is None:
                raise ScheduleNotFoundError(schedule_id)
            return stored.model_copy(deep=True)

    async def list_schedules(self) -> list[Schedule]:
        with self._guard:
            return [self._schedules[k].model_copy(deep=True) for k in sorted(self._schedules)]

    async def delete_schedule(self, schedule_id: str) -> bool:
        with self._guard:
            return self._schedules.pop(schedule_id, None) is not None

    async def advance_schedule(
        self, schedule_id: str, expected: datetime, next_fire_time: datetime, last_workflow_id: str | None
    ) -> bool:
        with self._guard:
            stored = self._schedules.get(schedule_id)
            if stored is None or stored.next_fire_time != expected:
                return False
            stored.next_fire_time = next_fire_time
            if last_workflow_id is not None:
                stored.last_workflow_id = last_workflow_id
            return True
