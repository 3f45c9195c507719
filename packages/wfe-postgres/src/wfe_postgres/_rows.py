"""Row codecs of ``PostgresPersistence``: models to statement parameters and JSON rows, and rows back to models."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python

from wfe_core.models import (
    Event,
    EventSubscription,
    ExecutionPointer,
    WorkflowInstance,
    WorkflowStatus,
    to_jsonable,
)
from wfe_core.models.trusted import trusted
from wfe_core.storable import unstorable
from wfe_core.write_guard import WriteGuard, write_guard
from wfe_postgres._provider import utc, utc_or_none

_POINTER_LIST = TypeAdapter(list[ExecutionPointer])


def _json(value: Any, where: str = "data") -> Jsonb:
    try:
        return Jsonb(to_jsonable_python(to_jsonable(value)))
    except PydanticSerializationError as exc:
        raise (unstorable(value, where) or exc) from None


class _Unset:
    """No value given (None means "no next execution")."""


_UNSET = _Unset()


def _event_lock(event_name: str, event_key: str) -> int:
    """The transaction lock id of an event name and key: ``create_event`` and a write storing a subscription
    on them take it, so one of them sees the other (a collision only makes two names wait for each other)."""
    digest = hashlib.blake2b(f"{event_name}\0{event_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class _RowWrite:
    """One instance's start or pass, serialised when it was asked for (the caller may change it after)."""

    workflow_id: str
    fence: int | None
    row: bytes
    """The JSON object of one row of ``_INSTANCE_ROWS``, without its batch position."""
    guard: WriteGuard | None = field(default=None, compare=False)
    """The caller's lease check (``wfe_core.write_guard``), run again just before a fenced write is sent."""
    release: str | None = None
    """The token of the instance's lease to release with the pass (``persist_workflow_released``), if any."""


def _row_write(
    instance: WorkflowInstance,
    pointers: Sequence[ExecutionPointer],
    subscriptions: Sequence[EventSubscription] = (),
    fence: int | None = None,
    *,
    workflow_id: str | None = None,
    next_execution: datetime | None | _Unset = _UNSET,
) -> _RowWrite:
    workflow_id = instance.id if workflow_id is None else workflow_id
    due = instance.next_execution if isinstance(next_execution, _Unset) else next_execution
    row = {
        "id": workflow_id,
        "name": instance.name or None,
        "create_time": utc(instance.create_time),
        "definition_id": instance.workflow_definition_id,
        "version": instance.version,
        "description": instance.description,
        "reference": instance.reference,
        "status": instance.status.value,
        "data": instance.data,
        "next_execution": utc_or_none(due),
        "complete_time": utc_or_none(instance.complete_time),
        "parent_workflow_id": instance.parent_workflow_id,
        "root_workflow_id": instance.root_workflow_id,
        "forked_from": instance.forked_from,
        "queue": instance.queue,
        "priority": instance.priority,
        "fence": fence,
        "pointers": list(pointers),
        "subscriptions": [_subscription_row(sub) for sub in subscriptions],
    }
    # pydantic-core serialises the models (data, pointers) and datetimes in one go
    try:
        return _RowWrite(workflow_id, fence, to_json(row), None if fence is None else write_guard())
    except PydanticSerializationError as exc:
        # Only now walk the values, to name the one that is not JSON (``data.items[2].owner``).
        raise (unstorable(row, "") or exc) from None


def _subscription_row(sub: EventSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "workflow_id": sub.workflow_id,
        "step_id": sub.step_id,
        "execution_pointer_id": sub.execution_pointer_id,
        "event_name": sub.event_name,
        "event_key": sub.event_key,
        "subscribe_as_of": utc(sub.subscribe_as_of),
        "subscription_data": to_jsonable(sub.subscription_data),
        "external_token": sub.external_token,
        "external_worker_id": sub.external_worker_id,
        "external_token_expiry": utc_or_none(sub.external_token_expiry),
    }


def _rows_json(writes: Sequence[_RowWrite]) -> str:
    return "[" + ",".join(f'{{"n":{n},{w.row[1:].decode()}' for n, w in enumerate(writes)) + "]"


def _subscription_params(sub: EventSubscription) -> tuple[Any, ...]:
    return (
        sub.id,
        sub.workflow_id,
        sub.step_id,
        sub.execution_pointer_id,
        sub.event_name,
        sub.event_key,
        utc(sub.subscribe_as_of),
        _json(sub.subscription_data, "subscription_data"),
        sub.external_token,
        sub.external_worker_id,
        utc_or_none(sub.external_token_expiry),
    )


def _event_params(event: Event) -> tuple[Any, ...]:
    return (
        event.id,
        event.event_name,
        event.event_key,
        _json(event.event_data),
        utc(event.event_time),
        event.is_processed,
    )


def _instance(row: dict[str, Any], pointers: list[ExecutionPointer]) -> WorkflowInstance:
    """The instance of a ``workflows`` row with its ``pointers``, built without validation (``trusted``): the
    row holds what a write checked and stored, each column in its type, and the values are converted here
    (status, times); validating them again cost more than the rest of building the instance."""
    return trusted(
        WorkflowInstance,
        id=row["id"],
        name=row["name"],
        workflow_definition_id=row["definition_id"],
        version=row["version"],
        description=row["description"],
        reference=row["reference"],
        status=WorkflowStatus(row["status"]),
        data=row["data"],
        next_execution=utc_or_none(row["next_execution"]),
        create_time=utc(row["create_time"]),
        complete_time=utc_or_none(row["complete_time"]),
        parent_workflow_id=row["parent_workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        forked_from=row["forked_from"],
        queue=row["queue"],
        priority=row["priority"],
        execution_pointers=pointers,
    )


def _subscription(row: dict[str, Any]) -> EventSubscription:
    return EventSubscription(
        id=row["id"],
        workflow_id=row["workflow_id"],
        step_id=row["step_id"],
        execution_pointer_id=row["execution_pointer_id"],
        event_name=row["event_name"],
        event_key=row["event_key"],
        subscribe_as_of=utc(row["subscribe_as_of"]),
        subscription_data=row["subscription_data"],
        external_token=row["external_token"],
        external_worker_id=row["external_worker_id"],
        external_token_expiry=utc_or_none(row["external_token_expiry"]),
    )


def _event(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        event_name=row["event_name"],
        event_key=row["event_key"],
        event_data=row["event_data"],
        event_time=utc(row["event_time"]),
        is_processed=row["is_processed"],
    )
