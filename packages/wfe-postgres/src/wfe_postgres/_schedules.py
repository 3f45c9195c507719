"""The ``ScheduleStore`` part of ``PostgresPersistence``: one row per schedule, its settings as JSON."""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb

from wfe_core.errors import PersistenceError, ScheduleNotFoundError
from wfe_core.models import Schedule, merge_schedule
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider, utc


def _body(schedule: Schedule) -> Jsonb:
    return Jsonb(schedule.model_dump(mode="json"))


class _Schedules(PostgresProvider):
    """Schedules; ``advance_schedule`` is one conditional UPDATE, so exactly one host claims a tick."""

    async def put_schedule(self, schedule: Schedule) -> Schedule:
        with wrapped(PersistenceError, "put_schedule"):
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute(
                    self._layout.q(
                        "INSERT INTO {schedules} (schedule_id, next_fire_time, body) VALUES (%s, %s, %s)"
                        " ON CONFLICT (schedule_id) DO NOTHING"
                    ),
                    (schedule.schedule_id, utc(schedule.next_fire_time), _body(schedule)),
                )
                cur = await conn.execute(
                    self._layout.q("SELECT body FROM {schedules} WHERE schedule_id = %s FOR UPDATE"),
                    (schedule.schedule_id,),
                )
                row = await cur.fetchone()
                assert row is not None
                stored = merge_schedule(Schedule.model_validate(row[0]), schedule)
                await conn.execute(
                    self._layout.q(
                        "UPDATE {schedules} SET next_fire_time = %s, body = %s WHERE schedule_id = %s"
                    ),
                    (utc(stored.next_fire_time), _body(stored), schedule.schedule_id),
                )
        return stored

    async def get_schedule(self, schedule_id: str) -> Schedule:
        with wrapped(PersistenceError, "get_schedule"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("SELECT body FROM {schedules} WHERE schedule_id = %s"), (schedule_id,)
                )
                row = await cur.fetchone()
        if row is None:
            raise ScheduleNotFoundError(schedule_id)
        return Schedule.model_validate(row[0])

    async def list_schedules(self) -> list[Schedule]:
        with wrapped(PersistenceError, "list_schedules"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(self._layout.q("SELECT body FROM {schedules} ORDER BY schedule_id"))
                rows = await cur.fetchall()
        return [Schedule.model_validate(row[0]) for row in rows]

    async def delete_schedule(self, schedule_id: str) -> bool:
        with wrapped(PersistenceError, "delete_schedule"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("DELETE FROM {schedules} WHERE schedule_id = %s"), (schedule_id,)
                )
                return cur.rowcount > 0

    async def advance_schedule(
        self, schedule_id: str, expected: datetime, next_fire_time: datetime, last_workflow_id: str | None
    ) -> bool:
        with wrapped(PersistenceError, "advance_schedule"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {schedules} SET next_fire_time = %s, body = body"
                        " || jsonb_build_object('next_fire_time', %s::text)"
                        " || CASE WHEN %s::text IS NULL THEN '{{}}'::jsonb"
                        " ELSE jsonb_build_object('last_workflow_id', %s::text) END"
                        " WHERE schedule_id = %s AND next_fire_time = %s"
                    ),
                    (
                        utc(next_fire_time),
                        utc(next_fire_time).isoformat(),
                        last_workflow_id,
                        last_workflow_id,
                        schedule_id,
                        utc(expected),
                    ),
                )
                return cur.rowcount > 0
