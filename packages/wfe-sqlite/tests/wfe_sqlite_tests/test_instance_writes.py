"""Instance writes: every column a write changes is stored, whichever statement writes it; a pass that keeps
the indexed columns leaves their indexes alone; None values go into the text as NULL."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus
from wfe_sqlite import SqliteDatabase, SqlitePersistence
from wfe_sqlite._nulls import NullsInlined

NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

CHANGES: list[tuple[str, Any]] = [
    ("name", "renamed-1"),
    ("workflow_definition_id", "other-definition"),
    ("version", 2),
    ("description", "described again"),
    ("description", None),
    ("reference", "another reference"),
    ("reference", None),
    ("status", WorkflowStatus.SUSPENDED),
    ("data", {"after": [1, 2, None]}),
    ("data", None),
    ("next_execution", NOW + timedelta(seconds=9)),
    ("next_execution", None),
    ("create_time", NOW - timedelta(days=1)),
    ("complete_time", NOW + timedelta(hours=1)),
    ("parent_workflow_id", "another-parent"),
    ("parent_workflow_id", None),
    ("root_workflow_id", "another-root"),
    ("root_workflow_id", None),
    ("forked_from", "another-original"),
    ("forked_from", None),
    ("queue", "another-queue"),
    ("queue", None),
    ("priority", 7),
]


def full_instance() -> WorkflowInstance:
    """An instance with every optional column set."""
    return WorkflowInstance(
        name="named-1",
        workflow_definition_id="orders",
        version=1,
        description="described",
        reference="a reference",
        data={"before": True},
        next_execution=NOW,
        create_time=NOW,
        parent_workflow_id="a-parent",
        root_workflow_id="a-root",
        forked_from="an-original",
        queue="a-queue",
        priority=3,
        execution_pointers=[ExecutionPointer(step_id=0, step_name="first")],
    )


@pytest.mark.parametrize(("field", "value"), CHANGES, ids=[f"{f}={v!r}"[:40] for f, v in CHANGES])
async def test_a_write_stores_the_column_it_changes(
    persistence: SqlitePersistence, field: str, value: Any
) -> None:
    instance = full_instance()
    await persistence.create_workflow(instance)
    await persistence.claim_workflow(instance.id, 4)
    loaded = await persistence.get_workflow(instance.id)
    setattr(loaded, field, value)
    loaded.execution_pointers[0].status = PointerStatus.COMPLETE
    await persistence.persist_workflow(loaded, pointers=loaded.execution_pointers, fence=4)
    assert (await persistence.get_workflow(instance.id)).model_dump() == loaded.model_dump()


async def test_a_pass_names_neither_the_indexed_columns_it_keeps_nor_runs_a_statement_per_pointer(
    tmp_path: Any,
) -> None:
    database = SqliteDatabase(str(tmp_path / "wfe.db"))
    persistence = SqlitePersistence(database)
    await persistence.ensure_store_exists()
    statements: list[str] = []
    try:
        await database.run(lambda conn: conn.set_trace_callback(statements.append), write=False)
        instance = full_instance()
        await persistence.create_workflow(instance)
        done, added = instance.execution_pointers[0], ExecutionPointer(step_id=1, step_name="second")
        done.status = PointerStatus.COMPLETE
        instance.execution_pointers.append(added)
        instance.data = {"more": 1}
        instance.status = WorkflowStatus.COMPLETE
        instance.complete_time = NOW + timedelta(seconds=2)
        statements.clear()
        await persistence.persist_workflow(instance, pointers=[done, added])
        (update,) = [s for s in statements if s.startswith("UPDATE workflows")]
        assert set_columns(update) == {
            "description",
            "reference",
            "status",
            "data",
            "next_execution",
            "complete_time",
            "queue",
            "priority",
            "fence",
        }
        assert len([s for s in statements if s.startswith("INSERT INTO execution_pointers")]) == 1
        instance.workflow_definition_id = "renamed-definition"
        statements.clear()
        await persistence.persist_workflow(instance, pointers=[])
        updates = [s for s in statements if s.startswith("UPDATE workflows")]
        assert len(updates) == 2  # the pass's statement matched nothing: every column is written
        assert {"name", "definition_id", "version", "create_time"} <= set_columns(updates[1])
        assert (await persistence.get_workflow(instance.id)).model_dump() == instance.model_dump()
    finally:
        await database.run(lambda conn: conn.set_trace_callback(None), write=False)
        await persistence.close()
        await database.release()


async def test_many_pointers_are_written_in_statements_of_a_bounded_size(
    persistence: SqlitePersistence,
) -> None:
    instance = full_instance()
    instance.execution_pointers = [ExecutionPointer(step_id=i, step_name=f"s{i}") for i in range(120)]
    await persistence.create_workflow(instance)
    for pointer in instance.execution_pointers[::3]:
        pointer.retry_count = 2
    instance.execution_pointers += [ExecutionPointer(step_id=200 + i) for i in range(55)]
    await persistence.persist_workflow(
        instance, pointers=instance.execution_pointers[::3] + instance.execution_pointers[120:]
    )
    loaded = await persistence.get_workflow(instance.id)
    assert [p.model_dump() for p in loaded.execution_pointers] == [
        p.model_dump() for p in instance.execution_pointers
    ]


def set_columns(update: str) -> set[str]:
    assignments = update.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    return set(re.findall(r"(?:^|, )(\w+) = ", assignments))


def test_nones_are_written_as_null_and_left_out_of_the_values() -> None:
    statement = NullsInlined("UPDATE t SET a = ?, b = coalesce(?, b) WHERE id = ? AND c IS ?")
    text, values = statement.bind([None, 2, "x", None])
    assert text == "UPDATE t SET a = NULL, b = coalesce(?, b) WHERE id = ? AND c IS NULL"
    assert values == [2, "x"]
    assert statement.bind([None, 3, "y", None])[0] is text  # one text per pattern of None
    assert statement.bind([1, 2, "x", 0]) == (
        "UPDATE t SET a = ?, b = coalesce(?, b) WHERE id = ? AND c IS ?",
        [1, 2, "x", 0],
    )
    with pytest.raises(sqlite3.ProgrammingError, match="uses 4, and there are 3 supplied"):
        statement.bind([1, 2, 3])


def test_a_bound_statement_selects_what_the_plain_one_does() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        sql = "SELECT ?, ? IS NULL, coalesce(?, 'default'), ?"
        for values in ([None, None, None, None], [1, None, "x", 2.5], ["a", 0, None, None]):
            assert (
                conn.execute(*NullsInlined(sql).bind(values)).fetchone()
                == conn.execute(sql, values).fetchone()
            )
    finally:
        conn.close()


async def test_a_generated_name_skips_one_given_explicitly(persistence: SqlitePersistence) -> None:
    given = full_instance()
    given.name = "orders-2"
    await persistence.create_workflow(given)
    other = full_instance()
    other.name, other.workflow_definition_id = "", "other"
    await persistence.create_workflow(other)
    names = []
    for _ in range(3):
        instance = full_instance()
        instance.name = ""
        await persistence.create_workflow(instance)
        names.append(instance.name)
    assert other.name == "other-1"
    assert names == ["orders-1", "orders-3", "orders-4"]
