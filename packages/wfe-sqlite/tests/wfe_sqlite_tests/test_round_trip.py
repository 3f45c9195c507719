"""Property: any JSON data and any pointer values survive a store-and-load through SQLite unchanged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance
from wfe_sqlite import SqliteDatabase, SqlitePersistence
from wfe_sqlite._codec import dump_model
from wfe_sqlite._rows import load_pointers

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
pointers = st.builds(
    ExecutionPointer,
    step_id=st.integers(min_value=0, max_value=10_000),
    step_name=st.none() | st.text(max_size=20),
    status=st.sampled_from(PointerStatus),
    sleep_until=st.none() | times,
    persistence_data=json_values,
    event_data=json_values,
    retry_count=st.integers(min_value=0, max_value=1000),
    children=st.lists(st.text(max_size=8), max_size=4),
    scope=st.lists(st.text(max_size=8), max_size=4),
    context_item=json_values,
    outcome=json_values,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values, steps=st.lists(pointers, max_size=5), created=times, offset=st.integers(0, 10**9))
def test_instances_round_trip_exactly(
    data: Any, steps: list[ExecutionPointer], created: datetime, offset: int
) -> None:
    instance = WorkflowInstance(
        workflow_definition_id="round-trip",
        version=1,
        data=data,
        create_time=created,
        next_execution=created + timedelta(microseconds=offset),
        execution_pointers=steps,
    )

    async def store_and_load() -> WorkflowInstance:
        persistence = SqlitePersistence(SqliteDatabase(":memory:"))
        try:
            await persistence.create_workflow(instance)
            return await persistence.get_workflow(instance.id)
        finally:
            await persistence.close()

    assert asyncio.run(store_and_load()) == instance


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pointer=pointers)
def test_a_pointer_is_stored_as_the_text_of_model_dump_json(pointer: ExecutionPointer) -> None:
    assert dump_model(pointer) == pointer.model_dump_json()
    assert load_pointers([dump_model(pointer), dump_model(pointer)]) == [pointer, pointer]
