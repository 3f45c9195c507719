"""Mapping models to table rows and back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from wfe_core.models import (
    Event,
    EventSubscription,
    ExecutionPointer,
    WorkflowInstance,
    WorkflowStatus,
)
from wfe_core.models.trusted import trusted
from wfe_sqlite._codec import (
    dump_json,
    dump_model,
    from_micros,
    from_micros_opt,
    load_json,
    to_micros,
    to_micros_opt,
)

WORKFLOW_COLUMNS = (
    "id, name, definition_id, version, description, reference, status, data, next_execution, create_time, "
    "complete_time, parent_workflow_id, root_workflow_id, forked_from, queue, priority"
)

SUBSCRIPTION_COLUMNS = (
    "id, workflow_id, step_id, execution_pointer_id, event_name, event_key, subscribe_as_of, "
    "subscription_data, "
    "external_token, external_worker_id, external_token_expiry"
)

EVENT_COLUMNS = "id, event_name, event_key, event_data, event_time, is_processed"

PointerRow = tuple[str, str, int, str, str]

_POINTER_LIST = TypeAdapter(list[ExecutionPointer])


def workflow_values(instance: WorkflowInstance) -> tuple[Any, ...]:
    """Values in ``WORKFLOW_COLUMNS`` order."""
    return (
        instance.id,
        instance.name,
        instance.workflow_definition_id,
        instance.version,
        instance.description,
        instance.reference,
        str(instance.status),  # a StrEnum: str() is its value, as a plain str (which binds fastest)
        dump_json(instance.data),
        to_micros_opt(instance.next_execution),
        to_micros(instance.create_time),
        to_micros_opt(instance.complete_time),
        instance.parent_workflow_id,
        instance.root_workflow_id,
        instance.forked_from,
        instance.queue,
        instance.priority,
    )


def pointer_rows(instance: WorkflowInstance, pointers: Sequence[ExecutionPointer] | None) -> list[PointerRow]:
    """Rows (workflow_id, id, ordinal, status, body) for ``pointers`` (every pointer when None).

    The ordinal is the pointer's position in the instance: loading returns pointers in their original order.
    """
    everything = instance.execution_pointers
    if pointers is None:
        return [_pointer_row(instance.id, i, p) for i, p in enumerate(everything)]
    positions = instance.pointer_positions()  # kept by the instance: no scan of the whole history per write
    extra = len(everything)
    rows: list[PointerRow] = []
    for pointer in pointers:
        ordinal = positions.get(pointer.id)
        if ordinal is None:
            ordinal, extra = extra, extra + 1
        rows.append(_pointer_row(instance.id, ordinal, pointer))
    return rows


def _pointer_row(workflow_id: str, ordinal: int, pointer: ExecutionPointer) -> PointerRow:
    return (workflow_id, pointer.id, ordinal, str(pointer.status), dump_model(pointer))


def load_pointers(bodies: Sequence[str]) -> list[ExecutionPointer]:
    """The pointers of ``bodies`` (their JSON texts), validated in one call rather than one call each."""
    if not bodies:
        return []
    return _POINTER_LIST.validate_json("[" + ",".join(bodies) + "]")


def instance_from_row(row: Sequence[Any], pointers: list[ExecutionPointer]) -> WorkflowInstance:
    """The instance of a ``workflows`` row (``WORKFLOW_COLUMNS``) with its ``pointers``.

    Built without validation (``trusted``): the row holds what a write checked and stored, each column in its
    type, and the values are converted here (status, JSON, times); validating them again cost more than the
    rest of a read."""
    return trusted(
        WorkflowInstance,
        id=row[0],
        name=row[1],
        workflow_definition_id=row[2],
        version=row[3],
        description=row[4],
        reference=row[5],
        status=WorkflowStatus(row[6]),
        data=load_json(row[7]),
        next_execution=from_micros_opt(row[8]),
        create_time=from_micros(row[9]),
        complete_time=from_micros_opt(row[10]),
        parent_workflow_id=row[11],
        root_workflow_id=row[12],
        forked_from=row[13],
        queue=row[14],
        priority=row[15],
        execution_pointers=pointers,
    )


def subscription_values(subscription: EventSubscription) -> tuple[Any, ...]:
    """Values in ``SUBSCRIPTION_COLUMNS`` order."""
    return (
        subscription.id,
        subscription.workflow_id,
        subscription.step_id,
        subscription.execution_pointer_id,
        subscription.event_name,
        subscription.event_key,
        to_micros(subscription.subscribe_as_of),
        dump_json(subscription.subscription_data, "subscription_data"),
        subscription.external_token,
        subscription.external_worker_id,
        to_micros_opt(subscription.external_token_expiry),
    )


def subscription_from_row(row: Sequence[Any]) -> EventSubscription:
    return EventSubscription(
        id=row[0],
        workflow_id=row[1],
        step_id=row[2],
        execution_pointer_id=row[3],
        event_name=row[4],
        event_key=row[5],
        subscribe_as_of=from_micros(row[6]),
        subscription_data=load_json(row[7]),
        external_token=row[8],
        external_worker_id=row[9],
        external_token_expiry=from_micros_opt(row[10]),
    )


def event_values(event: Event) -> tuple[Any, ...]:
    """Values in ``EVENT_COLUMNS`` order."""
    return (
        event.id,
        event.event_name,
        event.event_key,
        dump_json(event.event_data, "data"),
        to_micros(event.event_time),
        int(event.is_processed),
    )


def event_from_row(row: Sequence[Any]) -> Event:
    return Event(
        id=row[0],
        event_name=row[1],
        event_key=row[2],
        event_data=load_json(row[3]),
        event_time=from_micros(row[4]),
        is_processed=bool(row[5]),
    )
