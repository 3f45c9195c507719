"""Lifecycle events: one class per kind, all JSON-serialisable so a hub can carry them between hosts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, TypeAdapter

from wfe_core.models.trusted import trusted

if TYPE_CHECKING:
    from wfe_core.models.instance import WorkflowInstance


class LifecycleEventBase(BaseModel):
    """Fields every lifecycle event carries."""

    workflow_id: str
    definition_id: str
    version: int
    reference: str | None = None
    time: datetime

    @classmethod
    def of(cls, instance: WorkflowInstance, time: datetime, **fields: Any) -> Self:
        """An event of this kind about ``instance`` at ``time``, built from the engine's own values without
        validation (a pass emits several; validating them cost as much as the rest of its bookkeeping)."""
        f = instance.__dict__  # one read through pydantic's attribute hook, not four
        return trusted(
            cls,
            workflow_id=f["id"],
            definition_id=f["workflow_definition_id"],
            version=f["version"],
            reference=f["reference"],
            time=time,
            **fields,
        )


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
    """What failed and why: ``ExceptionType: message``."""
    step_id: int | None = None
    pointer_id: str | None = None
    step_name: str | None = None


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

LIFECYCLE_KINDS: frozenset[str] = frozenset(
    kind.__name__
    for kind in (
        WorkflowStarted,
        WorkflowCompleted,
        WorkflowTerminated,
        WorkflowSuspended,
        WorkflowResumed,
        WorkflowError,
        StepStarted,
        StepCompleted,
        WaitingForEvent,
    )
)
"""The names of every kind of lifecycle event (each event's ``kind``, and its class's name)."""


def lifecycle_kinds(kinds: Iterable[str | type[LifecycleEventBase]]) -> frozenset[str]:
    """Kind names from names or event classes; ``ConfigurationError`` naming the known kinds for an unknown one."""
    from wfe_core.errors import ConfigurationError

    if isinstance(kinds, str | type):
        kinds = [kinds]
    names = frozenset(kind if isinstance(kind, str) else kind.__name__ for kind in kinds)
    unknown = sorted(names - LIFECYCLE_KINDS)
    if unknown:
        known = ", ".join(sorted(LIFECYCLE_KINDS))
        raise ConfigurationError(
            f"unknown lifecycle event kind {', '.join(map(repr, unknown))}: use one of {known}"
        )
    return names
