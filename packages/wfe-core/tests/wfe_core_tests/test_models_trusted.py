"""Ids and models the engine builds for itself: new_id and trusted()."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from wfe_core.models import ExecutionPointer, PointerStatus, StepStarted, WorkflowInstance, new_id
from wfe_core.models.instance import new_instance, new_pointer
from wfe_core.models.trusted import trusted


def test_ids_are_uuid7_strings_in_the_order_of_their_millisecond() -> None:
    made: list[tuple[int, str]] = []
    for _ in range(1000):
        before = time.time_ns() // 1_000_000
        value = new_id()
        after = time.time_ns() // 1_000_000
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after, "the first 48 bits are the Unix time in milliseconds"
        made.append((parsed.int >> 80, value))
    for (ms, value), (later_ms, later) in zip(made, made[1:], strict=False):
        if later_ms > ms:
            assert later > value, "an id of a later millisecond sorts after, as text too"
    assert len({value for _, value in made}) == len(made)
    # the variant digit keeps two random bits; the version digit and the dashes are where they belong
    assert {value[19] for _, value in made} == set("89ab")
    assert all(
        value[14] == "7" and [len(group) for group in value.split("-")] == [8, 4, 4, 4, 12]
        for _, value in made
    )


def test_threads_never_get_the_same_id() -> None:
    found: list[list[str]] = [[] for _ in range(8)]

    def take(bucket: list[str]) -> None:
        bucket.extend(new_id() for _ in range(5000))

    threads = [threading.Thread(target=take, args=(bucket,)) for bucket in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for bucket in found for value in bucket]
    assert len(set(every)) == len(every) == 40_000


FORK_CHECK = """
import os
from wfe_core.models import new_id
new_id()  # the parent has random bytes buffered
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, ",".join(new_id() for _ in range(10)).encode())
    os._exit(0)
os.close(write)
child = os.read(read, 4096).decode().split(",")
os.waitpid(pid, 0)
parent = [new_id() for _ in range(10)]
print(len(set(child) | set(parent)))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    # in a process of its own: forking this (threaded) test process is unsafe
    done = subprocess.run([sys.executable, "-c", FORK_CHECK], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "20"


def test_trusted_models_equal_validated_ones() -> None:
    pointer = trusted(ExecutionPointer, step_id=3, step_name="charge", scope=["a"])
    validated = ExecutionPointer(id=pointer.id, step_id=3, step_name="charge", scope=["a"])
    assert pointer == validated
    assert pointer.model_dump() == validated.model_dump()
    assert pointer.status is PointerStatus.PENDING
    other = trusted(ExecutionPointer, step_id=3)
    assert other.id != pointer.id
    assert other.children is not pointer.children  # factories run per model


def test_trusted_instances_have_their_own_pointer_caches() -> None:
    now = datetime.now(UTC)
    instance = trusted(
        WorkflowInstance,
        workflow_definition_id="d",
        version=1,
        create_time=now,
        execution_pointers=[trusted(ExecutionPointer, step_id=0)],
    )
    assert [p.step_id for p in instance.open_pointers()] == [0]
    fresh = trusted(WorkflowInstance, workflow_definition_id="d", version=1, create_time=now)
    assert fresh.open_pointers() == []
    event = trusted(
        StepStarted, workflow_id="w", definition_id="d", version=1, time=now, step_id=0, pointer_id="p"
    )
    assert event == StepStarted(
        workflow_id="w", definition_id="d", version=1, time=now, step_id=0, pointer_id="p"
    )


def test_trusted_refuses_a_missing_required_field() -> None:
    with pytest.raises(TypeError, match="step_id"):
        trusted(ExecutionPointer, step_name="x")


def test_new_pointers_equal_validated_ones() -> None:
    first = new_pointer(0, "start")
    assert first == ExecutionPointer(id=first.id, step_id=0, step_name="start")
    assert first.model_fields_set == {"step_id", "step_name"}
    scope = ["container"]
    later = new_pointer(2, "charge", first.id, scope, {"item": 1})
    validated = ExecutionPointer(
        id=later.id,
        step_id=2,
        step_name="charge",
        predecessor_id=first.id,
        scope=scope,
        context_item={"item": 1},
    )
    assert later == validated
    assert list(later.__dict__) == list(ExecutionPointer.model_fields)
    assert later.scope is not scope and later.children is not first.children
    assert later.model_fields_set == {"step_id", "step_name", "predecessor_id", "scope", "context_item"}


def test_new_instances_equal_validated_ones() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    pointers = [new_pointer(0, "start")]
    values = {
        "id": new_id(),
        "name": "",
        "workflow_definition_id": "orders",
        "version": 2,
        "description": "an order",
        "reference": "ref-1",
        "data": {"a": 1},
        "parent_workflow_id": None,
        "root_workflow_id": None,
        "forked_from": None,
        "queue": "q",
        "priority": 3,
        "execution_pointers": pointers,
    }
    instance = new_instance(now=now, **values)
    validated = WorkflowInstance(next_execution=now, create_time=now, **values)
    assert instance == validated
    assert instance.model_dump() == validated.model_dump()
    assert list(instance.__dict__) == list(WorkflowInstance.model_fields)
    assert instance.model_fields_set == validated.model_fields_set
    assert instance.execution_pointers is pointers
    assert instance.open_pointers() == pointers  # the private caches work
    other = new_instance(now=now, **values)
    assert other.errors is not instance.errors
    assert other.__pydantic_private__ is not instance.__pydantic_private__
