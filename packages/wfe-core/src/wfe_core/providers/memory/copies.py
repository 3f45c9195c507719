"""Fast deep copies of stored values, so callers and the in-memory store never share mutable state."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from pydantic import BaseModel

from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus
from wfe_core.models.instance import fresh_instance_private
from wfe_core.models.trusted import assembled
from wfe_core.value_copy import IMMUTABLE, copy_value

_M = TypeVar("_M", bound=BaseModel)

_IMMUTABLE = IMMUTABLE

_POINTER_VALUE_FIELDS = ("persistence_data", "event_data", "context_item", "outcome")
"""The pointer's fields of any value, mostly None; children, scope and extension_attributes are copied apart."""


def copy_model(model: _M) -> _M:
    """A deep copy of a pydantic model whose fields hold plain values."""
    duplicate = copy.copy(model)
    fields = duplicate.__dict__
    for name, value in fields.items():
        if not isinstance(value, _IMMUTABLE):
            fields[name] = copy_value(value)
    return duplicate


# Records are tuples of plain values: the cyclic garbage collector stops tracking a tuple that holds only
# untracked values (strings, numbers, times, None, other such tuples) after the first collection it survives
# (the second, as it holds tuples made with it: children and scope when not empty), and a store keeps every
# instance it was given. Kept as models (a dict, a set of field names, a list for each of children and scope, an
# enum member per status), each stored pointer and instance stayed tracked, and the full collections, which grow
# with every object tracked, took about a tenth of the in-memory load's time. A dict, even an empty one, keeps
# the tuple holding it tracked: the instance's data is kept beside its record, and the names of the fields
# given are one shared tuple for each set of names.

PointerRecord = tuple[Any, ...]
"""How the in-memory store keeps a pointer: its fields in model order (a deep copy; the status as its string,
children and scope as tuples, an empty ``extension_attributes`` as None), then the names of the fields given
when it was built (pydantic's ``model_fields_set``). No model is built for a write: most stored pointers are
never read back."""

_POINTER_NAMES = (
    "id", "step_id", "step_name", "active", "status", "sleep_until", "persistence_data", "start_time",
    "end_time", "event_name", "event_key", "event_published", "event_data", "retry_count", "children", "scope",
    "context_item", "predecessor_id", "outcome", "extension_attributes",
)  # fmt: skip
"""The order of a ``PointerRecord``'s fields: the model's (the store's tests check it)."""
P_ID = _POINTER_NAMES.index("id")
_POINTER_STATUS: dict[str, PointerStatus] = {status.value: status for status in PointerStatus}

_SHARED_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}
"""One tuple for each set of field names given (a handful in all): a record refers to it instead of a tuple
of its own, one object less for the garbage collector to track for each record kept."""
_SHARED_NAMES_BOUND = 1024


def _shared_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` kept as the shared tuple of its names (a new set of names: looked up first)."""
    if len(_SHARED_NAMES) < _SHARED_NAMES_BOUND:
        _SHARED_NAMES[names] = names
    return names


def pointer_record(pointer: ExecutionPointer) -> PointerRecord:
    """What the store keeps of ``pointer``: later changes to the pointer do not reach it."""
    f = pointer.__dict__
    # the fields of any value are mostly None, children and scope lists of strings, the extensions empty
    persistence_data, event_data, context_item, outcome = (
        f["persistence_data"], f["event_data"], f["context_item"], f["outcome"]
    )  # fmt: skip
    status, children, scope, extensions = f["status"], f["children"], f["scope"], f["extension_attributes"]
    names = tuple(pointer.__pydantic_fields_set__)
    return (
        f["id"], f["step_id"], f["step_name"], f["active"],
        status._value_ if type(status) is PointerStatus else status,
        f["sleep_until"],
        persistence_data if persistence_data is None else copy_value(persistence_data),
        f["start_time"], f["end_time"], f["event_name"], f["event_key"], f["event_published"],
        event_data if event_data is None else copy_value(event_data),
        f["retry_count"],
        tuple(children) if type(children) is list else copy_value(children),
        tuple(scope) if type(scope) is list else copy_value(scope),
        context_item if context_item is None else copy_value(context_item),
        f["predecessor_id"],
        outcome if outcome is None else copy_value(outcome),
        None if type(extensions) is dict and not extensions else copy_value(extensions),
        _SHARED_NAMES.get(names) or _shared_names(names),
    )  # fmt: skip


def pointer_from_record(record: PointerRecord) -> ExecutionPointer:
    """A pointer for what the store kept; changes to it do not reach the store."""
    fields = dict(zip(_POINTER_NAMES, record, strict=False))  # the record's last item is the names given
    for name in _POINTER_VALUE_FIELDS:
        value = fields[name]
        if value is not None and not isinstance(value, _IMMUTABLE):
            fields[name] = copy_value(value)
    status = fields["status"]
    fields["status"] = _POINTER_STATUS.get(status, status)
    for name in ("children", "scope"):
        value = fields[name]
        fields[name] = list(value) if type(value) is tuple else copy_value(value)
    value = fields["extension_attributes"]
    fields["extension_attributes"] = {} if value is None else copy_value(value)
    return assembled(ExecutionPointer, fields, set(record[-1]), None)


InstanceRecord = tuple[Any, ...]
"""How the in-memory store keeps an instance's own fields but its data, as a pointer's (``PointerRecord``): in
model order without the data and the pointer and error lists, the status as its string, then the names of the
fields given when it was built. The data is kept beside it (``instance_data``): a tuple that holds a dict stays
tracked by the garbage collector for good, even when the dict itself is not tracked."""

_INSTANCE_NAMES = (
    "id", "name", "workflow_definition_id", "version", "description", "reference", "status", "data",
    "next_execution", "create_time", "complete_time", "parent_workflow_id", "root_workflow_id", "forked_from",
    "queue", "priority",
)  # fmt: skip
"""The model's fields but for its pointers and errors, in its order (the store's tests check it)."""
_RECORD_NAMES = tuple(name for name in _INSTANCE_NAMES if name != "data")
"""The order of an ``InstanceRecord``'s fields."""
I_DATA = _INSTANCE_NAMES.index("data")
"""Where the data would be in the record: the fields after it come one place earlier."""
I_ID = _RECORD_NAMES.index("id")
I_NAME = _RECORD_NAMES.index("name")
I_NEXT_EXECUTION = _RECORD_NAMES.index("next_execution")
I_STATUS = _RECORD_NAMES.index("status")
I_DEFINITION = _RECORD_NAMES.index("workflow_definition_id")
I_CREATE_TIME = _RECORD_NAMES.index("create_time")
I_COMPLETE_TIME = _RECORD_NAMES.index("complete_time")
_WORKFLOW_STATUS: dict[str, WorkflowStatus] = {status.value: status for status in WorkflowStatus}


def instance_record(instance: WorkflowInstance) -> InstanceRecord:
    """What the store keeps of the instance's own fields but its data; later changes to the instance do not
    reach it."""
    f = instance.__dict__
    status = f["status"]
    names = tuple(instance.__pydantic_fields_set__)
    return (
        f["id"], f["name"], f["workflow_definition_id"], f["version"], f["description"], f["reference"],
        status._value_ if type(status) is WorkflowStatus else status,
        f["next_execution"], f["create_time"], f["complete_time"], f["parent_workflow_id"],
        f["root_workflow_id"], f["forked_from"], f["queue"], f["priority"],
        _SHARED_NAMES.get(names) or _shared_names(names),
    )  # fmt: skip


def instance_data(instance: WorkflowInstance) -> Any:
    """What the store keeps of the instance's data: a model as JSON (a fresh dict), other data copied.

    Raises pydantic_core.PydanticSerializationError when the data is a model that cannot be dumped."""
    data = instance.data
    if type(data) is dict:  # the usual data: no isinstance check against BaseModel's ABC metaclass
        return copy_value(data)
    return data.model_dump(mode="json") if isinstance(data, BaseModel) else copy_value(data)


def renamed(record: InstanceRecord, name: str) -> InstanceRecord:
    """The record with another name."""
    return (*record[:I_NAME], name, *record[I_NAME + 1 :])


def instance_from_record(
    record: InstanceRecord, data: Any, pointers: list[ExecutionPointer]
) -> WorkflowInstance:
    """An instance for what the store kept, with ``pointers`` and no errors (the store keeps those apart);
    changes to it do not reach the store."""
    # in the model's order, as in an instance built from scratch (the record's last item is the names given)
    fields = dict(zip(_RECORD_NAMES[:I_DATA], record, strict=False))
    fields["data"] = copy_value(data)
    fields.update(zip(_RECORD_NAMES[I_DATA:], record[I_DATA:-1], strict=True))
    status = fields["status"]
    fields["status"] = _WORKFLOW_STATUS.get(status, status)
    fields["execution_pointers"] = pointers
    fields["errors"] = []
    # a fresh private state: the open-pointer cache belongs to another pointer list
    return assembled(WorkflowInstance, fields, set(record[-1]), fresh_instance_private())
