"""The ``ScheduleStore`` part of ``SqlitePersistence``: one row per schedule, its settings as JSON."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from wfe_core.errors import ScheduleNotFoundError
from wfe_core.models import Schedule, merge_schedule
from wfe_sqlite._codec import to_micros
from wfe_sqlite._provider import _SqliteProvider


def _row(schedule: Schedule) -> tuple[str, int, str]:
    return (schedule.schedule_id, to_micros(schedule.next_fire_time), schedule.model_dump_json())


class _ScheduleStore(_SqliteProvider):
    """Schedules; ``advance_schedule`` is one conditional UPDATE, so exactly one host claims a tick."""

    async def put_schedule(self, schedule: Schedule) -> Schedule:
        def put(conn: sqlite3.Connection) -> Schedule:
            found = conn.execute(
                "SELECT body FROM schedules WHERE schedule_id = ?", (schedule.schedule_id,)
            ).fetchone()
            existing = None if found is None else Schedule.model_validate_json(found[0])
            stored = merge_schedule(existing, schedule)
            conn.execute(
                "INSERT INTO schedules (schedule_id, next_fire_time, body) VALUES (?, ?, ?) "
                "ON CONFLICT (schedule_id) DO UPDATE SET next_fire_time = excluded.next_fire_time, "
                "body = excluded.body",
                _row(stored),
            )
            return stored

        result: Schedule = await self._write(put, "put schedule")
        return result

    async def get_schedule(self, schedule_id: str) -> Schedule:
        def get(conn: sqlite3.Connection) -> str | None:
            found = conn.execute(
                "SELECT body FROM schedules WHERE schedule_id = ?", (schedule_id,)
            ).fetchone()
            return None if found is None else str(found[0])

        body = await self._read(get, "get schedule")
        if body is None:
            raise ScheduleNotFoundError(schedule_id)
        return Schedule.model_validate_json(body)

    async def list_schedules(self) -> list[Schedule]:
        def list_all(conn: sqlite3.Connection) -> list[str]:
            return [str(row[0]) for row in conn.execute("SELECT body FROM schedules ORDER BY schedule_id")]

        bodies: list[str] = await self._read(list_all, "list schedules")
        return [Schedule.model_validate_json(body) for body in bodies]

    async def delete_schedule(self, schedule_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM schedules WHERE schedule_id = ?", (schedule_id,)).rowcount > 0

        result: bool = await self._write(delete, "delete schedule")
        return result

    async def advance_schedule(
        self, schedule_id: str, expected: datetime, next_fire_time: datetime, last_workflow_id: str | None
    ) -> bool:
        def advance(conn: sqlite3.Connection) -> bool:
            found = conn.execute(
                "SELECT body FROM schedules WHERE schedule_id = ? AND next_fire_time = ?",
                (schedule_id, to_micros(expected)),
            ).fetchone()
            if found is None:
                return False
            schedule = Schedule.model_validate_json(found[0])
            schedule.next_fire_time = next_fire_time
            if last_workflow_id is not None:
                schedule.last_workflow_id = last_workflow_id
            # Inside the write transaction: no other host can advance between the read and this update.
            conn.execute(
                "UPDATE schedules SET next_fire_time = ?, body = ? WHERE schedule_id = ?",
                (to_micros(next_fire_time), schedule.model_dump_json(), schedule_id),
            )
            return True

        result: bool = await self._write(advance, "advance schedule")
        return result
