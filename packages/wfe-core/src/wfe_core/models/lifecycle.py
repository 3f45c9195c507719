"""Lifecycle events: one class per kind, all JSON-serialisable so a hub can carry them between hosts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter


class LifecycleEventBase(BaseModel):
    """Fields every lifecycle event carries."""

    workflow_id: str
    definition_id: str
    version: int
    reference: str | None = None
    time: datetime


class StepEventBase(LifecycleEventBase):
    step_id: int
    pointer_id: str
    step_name: str | None = None


class WorkflowStarted(LifecycleEventBase):
    kind: Literal["WorkflowStarted"] = "WorkflowStarted"


class WorkflowCompleted(LifecycleEventBase):
    kind: Literal["WorkflowCompleted"] = "WorkflowCompleted"


class WorkflowTerminated(LifecycleEventBase):
    kind: Literal["WorkflowTerminated"] = "WorkflowTerminated"


class WorkflowSuspended(LifecycleEventBase):
    kind: Literal["WorkflowSuspended"] = "WorkflowSuspended"


class WorkflowResumed(LifecycleEventBase):
    kind: Literal["WorkflowResumed"] = "WorkflowResumed"


class WorkflowError(LifecycleEventBase):
    kind: Literal["WorkflowError"] = "WorkflowError"
    message: str
    step_id: int | None = None
    pointer_id: str | None = None


class StepStarted(StepEventBase):
    kind: Literal["StepStarted"] = "StepStarted"


class StepCompleted(StepEventBase):
    kind: Literal["StepCompleted"] = "StepCompleted"


class WaitingForEvent(StepEventBase):
    kind: Literal["WaitingForEvent"] = "WaitingForEvent"
    event_name: str
    event_key: str


LifecycleEvent = Annotated[
    WorkflowStarted
    | WorkflowCompleted
    | WorkflowTerminated
    | WorkflowSuspended
    | WorkflowResumed
    | WorkflowError
    | StepStarted
    | StepCompleted
    | WaitingForEvent,
    Field(discriminator="kind"),
]

lifecycle_event_adapter: TypeAdapter[LifecycleEvent] = TypeAdapter(LifecycleEvent)
"""Parses a lifecycle event from JSON (``lifecycle_event_adapter.validate_json(raw)``)."""
