"""SubWorkflow: starts a child workflow and waits until it ends; its final data becomes ``result``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from wfe_core.definition import call_flexible
from wfe_core.errors import ChildWorkflowFailedError, HostError
from wfe_core.models import WORKFLOW_ENDED_EVENT_NAME, ExecutionResult, WorkflowStatus
from wfe_core.step import StepBody, StepExecutionContext

CHILD_ID = "child_id"


class ChildStarter(Protocol):
    """What the host offers built-in steps for starting child workflows."""

    async def start_child_workflow(
        self,
        definition_id: str,
        version: int | None,
        data: Any,
        *,
        parent_id: str,
        root_id: str,
        child_id: str,
    ) -> str: ...


class SubWorkflow(StepBody):
    run_in_thread: ClassVar[bool] = False

    def __init__(
        self, definition_id: str, version: int | None = None, data: Callable[..., Any] | None = None
    ) -> None:
        self.definition_id = definition_id
        self.version = version
        self.data = data
        self.result: Any = None
        self.child_id: str | None = None

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        state = ctx.persistence_data if isinstance(ctx.persistence_data, dict) else {}
        if ctx.pointer.event_published:
            ended = ctx.pointer.event_data if isinstance(ctx.pointer.event_data, dict) else {}
            self.child_id = state.get(CHILD_ID)
            if ended.get("status") != WorkflowStatus.COMPLETE.value:
                # A retry starts a fresh child rather than re-reading this failure.
                ctx.pointer.event_published = False
                ctx.pointer.persistence_data = None
                raise ChildWorkflowFailedError(
                    str(self.child_id), str(ended.get("status")), str(ended.get("error") or "")
                )
            self.result = ended.get("data")
            return ExecutionResult.next()
        starter: ChildStarter | None = ctx.services
        if starter is None:
            raise HostError("sub_workflow steps need a WorkflowHost")
        # A child id derived from the pointer makes a re-run after a crash find the child it already started.
        child_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"wfe-child:{ctx.idempotency_key}:{ctx.pointer.retry_count}")
        )
        data = call_flexible(self.data, ctx.data, ctx) if self.data is not None else None
        root = ctx.workflow.root_workflow_id or ctx.workflow.id
        self.child_id = await starter.start_child_workflow(
            self.definition_id, self.version, data, parent_id=ctx.workflow.id, root_id=root, child_id=child_id
        )
        result = ExecutionResult.wait_for_event(WORKFLOW_ENDED_EVENT_NAME, self.child_id)
        result.persistence_data = {CHILD_ID: self.child_id}
        return result
