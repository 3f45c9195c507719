"""Status transitions of an instance, in one place: suspend, resume, terminate and complete.

The executor's error handler, the host's runner and the host's verbs all change an instance's status through
these functions. Each changes the instance in memory and returns its lifecycle event (None when the instance
is not in a status the transition applies to); the caller persists the instance and publishes the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from wfe_core.models import (
    WORKFLOW_ENDED_EVENT_NAME,
    Event,
    ExecutionError,
    ExecutionPointer,
    LifecycleEventBase,
    PointerStatus,
    WorkflowCompleted,
    WorkflowInstance,
    WorkflowResumed,
    WorkflowStatus,
    WorkflowSuspended,
    WorkflowTerminated,
    to_jsonable,
)
from wfe_core.models.status import WORKFLOW_COMPLETE

RETRIES_EXHAUSTED = "retries_exhausted"
"""Pointer attribute set when a step's retries ran out; a resume runs the step again from a fresh count."""

ENDED = (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED)

TERMINATED_ERROR = "terminated"
"""The error a parent is told when its child was terminated by request."""


class Action(StrEnum):
    """A status change asked for from outside the instance's own steps."""

    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change made in memory: the lifecycle event to publish and the pointers it changed."""

    event: LifecycleEventBase
    changed: list[ExecutionPointer] = field(default_factory=list)


def suspend(instance: WorkflowInstance, now: datetime) -> Transition | None:
    """RUNNABLE to SUSPENDED; its pointers stay as they are and run on when resumed."""
    if instance.status is not WorkflowStatus.RUNNABLE:
        return None
    instance.status = WorkflowStatus.SUSPENDED
    return Transition(WorkflowSuspended.of(instance, now))


def resume(instance: WorkflowInstance, now: datetime) -> Transition | None:
    """SUSPENDED to RUNNABLE, due now. A step whose retries were exhausted gets a fresh count, and a failed
    step that is still active runs again."""
    if instance.status is not WorkflowStatus.SUSPENDED:
        return None
    instance.status = WorkflowStatus.RUNNABLE
    instance.next_execution = now
    changed: list[ExecutionPointer] = []
    for pointer in instance.execution_pointers:
        if pointer.extension_attributes.pop(RETRIES_EXHAUSTED, None):
            pointer.retry_count = 0
            changed.append(pointer)
        if pointer.active and pointer.status is PointerStatus.FAILED:
            pointer.status = PointerStatus.PENDING
            if pointer not in changed:
                changed.append(pointer)
    return Transition(WorkflowResumed.of(instance, now), changed)


def terminate(instance: WorkflowInstance, now: datetime) -> Transition | None:
    """Any status but COMPLETE or TERMINATED to TERMINATED; nothing of it runs again."""
    if instance.status in ENDED:
        return None
    instance.status = WorkflowStatus.TERMINATED
    instance.complete_time = now
    instance.next_execution = None
    return Transition(WorkflowTerminated.of(instance, now))


def complete(instance: WorkflowInstance, now: datetime) -> Transition:
    """To COMPLETE: the instance ran to its end (or ``end_workflow``)."""
    instance.status = WORKFLOW_COMPLETE  # (a module constant: see wfe_core.models.status)
    instance.complete_time = now
    instance.next_execution = None
    return Transition(WorkflowCompleted.of(instance, now))


def apply(action: Action, instance: WorkflowInstance, now: datetime) -> Transition | None:
    """The transition ``action`` names."""
    if action is Action.SUSPEND:
        return suspend(instance, now)
    if action is Action.RESUME:
        return resume(instance, now)
    return terminate(instance, now)


def ended_notice(instance: WorkflowInstance, now: datetime, error: str = "") -> Event | None:
    """The event telling a sub-workflow's parent that it ended (None for an instance without a parent):
    key the child's id; data its status, data and ``error``."""
    if instance.parent_workflow_id is None:
        return None
    return Event(
        event_name=WORKFLOW_ENDED_EVENT_NAME,
        event_key=instance.id,
        event_data={"status": instance.status.value, "data": to_jsonable(instance.data), "error": error},
        event_time=now,
    )


def pass_notice(
    instance: WorkflowInstance,
    completed: bool,
    events: Sequence[LifecycleEventBase],
    errors: Sequence[ExecutionError],
    now: datetime,
) -> Event | None:
    """The notice for the parent of a sub-workflow that a pass ended: it completed (``completed``), or a
    failed step terminated or suspended it (its ``events`` say so, its last error is the reason). None when the
    instance has no parent or did not end."""
    if instance.parent_workflow_id is None:
        return None
    failure = errors[-1].message if errors else ""
    if instance.status is WorkflowStatus.COMPLETE and completed:
        return ended_notice(instance, now)
    if instance.status is WorkflowStatus.TERMINATED and any(
        isinstance(e, WorkflowTerminated) for e in events
    ):
        return ended_notice(instance, now, failure)
    if instance.status is WorkflowStatus.SUSPENDED and any(isinstance(e, WorkflowSuspended) for e in events):
        return ended_notice(instance, now, failure or "step failed")
    return None


def is_due(instance: WorkflowInstance, now: datetime) -> bool:
    """Whether the instance is runnable and its next pass due by ``now``: what the runnable poller picks up."""
    due = instance.next_execution
    return instance.status is WorkflowStatus.RUNNABLE and due is not None and due <= now


def child_ids(instance: WorkflowInstance) -> list[str]:
    """The ids of the sub-workflows the instance is waiting for."""
    return [
        pointer.event_key
        for pointer in instance.open_pointers()
        if pointer.status is PointerStatus.WAITING_FOR_EVENT
        and pointer.event_name == WORKFLOW_ENDED_EVENT_NAME
        and pointer.event_key is not None
    ]


__all__ = [
    "ENDED",
    "RETRIES_EXHAUSTED",
    "TERMINATED_ERROR",
    "Action",
    "Transition",
    "apply",
    "child_ids",
    "complete",
    "ended_notice",
    "is_due",
    "pass_notice",
    "resume",
    "suspend",
    "terminate",
]
