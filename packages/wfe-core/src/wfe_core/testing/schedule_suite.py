"""ScheduleSuite: conformance tests for a store offering schedules (``ScheduleStore``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.errors import ScheduleNotFoundError
from wfe_core.models import Schedule, new_id
from wfe_core.protocols import ScheduleStore


def _schedule(schedule_id: str, **fields: object) -> Schedule:
    values: dict[str, object] = {
        "schedule_id": schedule_id,
        "definition_id": "nightly",
        "cron": "0 3 * * *",
        "next_fire_time": datetime(2026, 1, 1, 3, tzinfo=UTC),
        "data": {"region": "eu", "n": [1, 2]},
    }
    values.update(fields)
    return Schedule.model_validate(values)


class ScheduleSuite:
    """Subclass it next to ``PersistenceSuite`` (same ``persistence`` fixture) when the store implements
    ``ScheduleStore``."""

    pytestmark = pytest.mark.asyncio

    async def test_put_get_list_delete_round_trip(self, persistence: ScheduleStore) -> None:
        first, second = f"b-{new_id()[-8:]}", f"a-{new_id()[-8:]}"
        stored = await persistence.put_schedule(
            _schedule(first, every=timedelta(seconds=90), cron=None, overlap="allow", catch_up="all")
        )
        assert stored.every == timedelta(seconds=90)
        await persistence.put_schedule(_schedule(second, version=3, timezone="Europe/Paris"))
        got = await persistence.get_schedule(second)
        assert got == _schedule(second, version=3, timezone="Europe/Paris")
        assert got.next_fire_time.utcoffset() == timedelta(0)
        ids = [s.schedule_id for s in await persistence.list_schedules()]
        assert [i for i in ids if i in (first, second)] == [second, first]
        assert await persistence.delete_schedule(first) is True
        assert await persistence.delete_schedule(first) is False
        with pytest.raises(ScheduleNotFoundError):
            await persistence.get_schedule(first)

    async def test_put_keeps_next_tick_and_last_run_when_the_timing_is_unchanged(
        self, persistence: ScheduleStore
    ) -> None:
        schedule_id = f"s-{new_id()[-8:]}"
        await persistence.put_schedule(_schedule(schedule_id))
        tick = datetime(2026, 1, 1, 3, tzinfo=UTC)
        assert await persistence.advance_schedule(schedule_id, tick, tick + timedelta(days=1), "run-1")
        later = datetime(2026, 6, 1, 3, tzinfo=UTC)
        kept = await persistence.put_schedule(_schedule(schedule_id, next_fire_time=later, data={"x": 1}))
        assert kept.next_fire_time == tick + timedelta(days=1)
        assert kept.last_workflow_id == "run-1"
        assert (await persistence.get_schedule(schedule_id)).data == {"x": 1}
        changed = await persistence.put_schedule(
            _schedule(schedule_id, cron="0 4 * * *", next_fire_time=later)
        )
        assert changed.next_fire_time == later
        assert changed.last_workflow_id is None

    async def test_advance_is_a_compare_and_set(self, persistence: ScheduleStore) -> None:
        schedule_id = f"s-{new_id()[-8:]}"
        tick = datetime(2026, 1, 1, 3, tzinfo=UTC)
        await persistence.put_schedule(_schedule(schedule_id, last_workflow_id="run-0"))
        assert not await persistence.advance_schedule(schedule_id, tick - timedelta(days=1), tick, "x")
        results = await asyncio.gather(
            *(
                persistence.advance_schedule(schedule_id, tick, tick + timedelta(days=1), None)
                for _ in range(10)
            )
        )
        assert sorted(results) == [False] * 9 + [True]
        after = await persistence.get_schedule(schedule_id)
        assert after.next_fire_time == tick + timedelta(days=1)
        assert after.last_workflow_id == "run-0"
        assert not await persistence.advance_schedule("missing-" + schedule_id, tick, tick, None)
