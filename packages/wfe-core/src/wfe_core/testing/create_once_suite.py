"""CreateOnceSuite: the idempotent-start part of ``PersistenceSuite`` (``create_workflow_once``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from wfe_core.errors import WorkflowNameTakenError
from wfe_core.models import ExecutionPointer, WorkflowInstance, WorkflowStatus, new_id
from wfe_core.protocols import PersistenceProvider


def _instance(workflow_id: str, definition_id: str, name: str = "") -> WorkflowInstance:
    now = datetime.now(UTC).replace(microsecond=0)
    return WorkflowInstance(
        id=workflow_id,
        name=name,
        workflow_definition_id=definition_id,
        version=1,
        create_time=now,
        execution_pointers=[ExecutionPointer(step_id=0)],
    )


class CreateOnceSuite:
    """Mixed into ``PersistenceSuite``; uses its ``persistence`` fixture."""

    pytestmark = pytest.mark.asyncio

    async def test_create_once_stores_then_returns_false_whatever_the_status(
        self, persistence: PersistenceProvider
    ) -> None:
        definition_id = f"def-{new_id()[-8:]}"
        workflow_id = f"order-{new_id()[-8:]}"
        first = _instance(workflow_id, definition_id)
        assert await persistence.create_workflow_once(first) is True
        assert first.name == f"{definition_id}-1"
        stored = await persistence.get_workflow(workflow_id)
        assert len(stored.execution_pointers) == 1
        stored.status = WorkflowStatus.COMPLETE
        await persistence.persist_workflow(stored)
        again = _instance(workflow_id, definition_id, name="other-name")
        assert await persistence.create_workflow_once(again) is False
        after = await persistence.get_workflow(workflow_id)
        assert after.status is WorkflowStatus.COMPLETE
        assert after.name == f"{definition_id}-1"
        with pytest.raises(Exception, match="not found"):
            await persistence.get_workflow("other-name")

    async def test_create_once_keeps_a_given_name_and_refuses_a_taken_one(
        self, persistence: PersistenceProvider
    ) -> None:
        definition_id = f"def-{new_id()[-8:]}"
        name = f"release-{new_id()[-8:]}"
        first = _instance(new_id(), definition_id, name=name)
        assert await persistence.create_workflow_once(first) is True
        assert (await persistence.get_workflow(name)).id == first.id
        clash = _instance(new_id(), definition_id, name=name)
        with pytest.raises(WorkflowNameTakenError) as raised:
            await persistence.create_workflow_once(clash)
        assert raised.value.existing_id == first.id
        assert first.id in str(raised.value)
        assert await persistence.get_workflows([clash.id]) == []

    async def test_concurrent_create_once_of_one_id_stores_one(
        self, persistence: PersistenceProvider
    ) -> None:
        definition_id = f"def-{new_id()[-8:]}"
        workflow_id = f"once-{new_id()[-8:]}"
        results = await asyncio.gather(
            *(persistence.create_workflow_once(_instance(workflow_id, definition_id)) for _ in range(20))
        )
        assert sorted(results) == [False] * 19 + [True]
        assert len(await persistence.list_workflows(definition_id=definition_id)) == 1
