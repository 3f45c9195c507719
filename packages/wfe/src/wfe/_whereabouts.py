"""What an instance is doing now, in words: what ``wait_for_workflow``'s TimeoutError says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from wfe_core.models import ExecutionError, ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus

MAX_ACTIVITIES = 4
"""How many of its steps a description names before it counts the rest."""


def describe_activity(instance: WorkflowInstance, errors: Sequence[ExecutionError]) -> str:
    """What ``instance`` is doing, from its pointers and ``errors`` (oldest first): waiting for event NAME/KEY,
    sleeping until T, retrying step S after ERROR, or suspended after ERROR in step S."""
    last_error = _last_error_by_pointer(errors)
    if instance.status is WorkflowStatus.SUSPENDED:
        failed = [
            p for p in instance.open_pointers() if p.status is PointerStatus.FAILED and p.id in last_error
        ]
        if failed:
            latest = max((last_error[p.id] for p in failed), key=lambda e: e.error_time)
            return f"suspended after {latest.message} in step {_step_of(latest, instance)!r}"
        return "suspended"
    if instance.status is not WorkflowStatus.RUNNABLE:
        return instance.status.value
    containers = {scope_id for p in instance.open_pointers() for scope_id in p.scope}
    activities: list[str] = []
    for pointer in instance.open_pointers():
        waiting = pointer.status is PointerStatus.WAITING_FOR_EVENT  # inactive until its event comes
        if not (pointer.active or waiting) or pointer.id in containers:
            continue
        activities.append(_pointer_activity(pointer, last_error.get(pointer.id)))
    unique = list(dict.fromkeys(activities))
    if not unique:
        if instance.next_execution is None:
            return "runnable, with no step due"
        return f"runnable, next pass due at {_time(instance.next_execution)}"
    shown = "; ".join(unique[:MAX_ACTIVITIES])
    if len(unique) > MAX_ACTIVITIES:
        shown += f"; and {len(unique) - MAX_ACTIVITIES} more steps"
    return shown


def _pointer_activity(pointer: ExecutionPointer, error: ExecutionError | None) -> str:
    step = f"step {pointer.step_name!r}" if pointer.step_name else f"step {pointer.step_id}"
    if pointer.status is PointerStatus.WAITING_FOR_EVENT and pointer.event_name is not None:
        return f"waiting for event {pointer.event_name}/{pointer.event_key} in {step}"
    if (
        error is not None
        and pointer.sleep_until is not None
        and (pointer.retry_count > 0 or pointer.status is not PointerStatus.SLEEPING)
    ):
        return f"retrying {step} after {error.message} (next attempt at {_time(pointer.sleep_until)})"
    if pointer.sleep_until is not None:
        return f"sleeping until {_time(pointer.sleep_until)} in {step}"
    return f"running {step}"


def _last_error_by_pointer(errors: Sequence[ExecutionError]) -> dict[str, ExecutionError]:
    latest: dict[str, ExecutionError] = {}
    for error in errors:
        if error.execution_pointer_id is not None:
            previous = latest.get(error.execution_pointer_id)
            if previous is None or previous.error_time <= error.error_time:
                latest[error.execution_pointer_id] = error
    return latest


def _step_of(error: ExecutionError, instance: WorkflowInstance) -> str:
    if error.step_name:
        return error.step_name
    if error.execution_pointer_id is not None:
        pointer = instance.pointer(error.execution_pointer_id)
        return pointer.step_name or str(pointer.step_id)
    return "?"


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
