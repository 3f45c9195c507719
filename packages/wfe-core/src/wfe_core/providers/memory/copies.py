"""Fast deep copies of stored values, so callers and the in-memory store never share mutable state."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from pydantic import BaseModel

from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_core.value_copy import IMMUTABLE, copy_value

_M = TypeVar("_M", bound=BaseModel)

_IMMUTABLE = IMMUTABLE

_POINTER_VALUE_FIELDS = ("persistence_data", "event_data", "context_item", "outcome")
"""The pointer's fields of any value, mostly None; children, scope and extension_attributes are copied apart."""
_new = object.__new__


_INSTANCE_PRIVATE: dict[str, Any] = {
    name: attr.get_default() for name, attr in WorkflowInstance.__private_attributes__.items()
}
"""The private state of a new instance (every default is immutable: None or 0), copied for each copy."""


def _fresh_private() -> dict[str, Any] | None:
    return _INSTANCE_PRIVATE.copy() if _INSTANCE_PRIVATE else None


def copy_model(model: _M) -> _M:
    """A deep copy of a pydantic model whose fields hold plain values."""
    duplicate = copy.copy(model)
    fields = duplicate.__dict__
    for name, value in fields.items():
        if not isinstance(value, _IMMUTABLE):
            fields[name] = copy_value(value)
    return duplicate


PointerRecord = tuple[dict[str, Any], set[str]]
"""How the in-memory store keeps a pointer: its fields (a deep copy) and the set of fields given when it was
built (pydantic's ``model_fields_set``, shared: nothing changes it in place). No model object is built for a
write: most stored pointers are never read back, and building one cost as much as copying its fields."""


def _pointer_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a pointer's fields."""
    fields = fields.copy()
    # the usual values (None, lists of strings, an empty dict) are each told apart with one check
    for name in _POINTER_VALUE_FIELDS:
        value = fields[name]
        if value is not None and not isinstance(value, _IMMUTABLE):
            fields[name] = copy_value(value)
    # scope and children hold strings: a shallow copy is a deep one
    value = fields["children"]
    fields["children"] = value[:] if type(value) is list else copy_value(value)
    value = fields["scope"]
    fields["scope"] = value[:] if type(value) is list else copy_value(value)
    value = fields["extension_attributes"]
    fields["extension_attributes"] = {} if type(value) is dict and not value else copy_value(value)
    return fields


def pointer_record(pointer: ExecutionPointer) -> PointerRecord:
    """What the store keeps of ``pointer``: later changes to the pointer do not reach it."""
    return _pointer_fields(pointer.__dict__), pointer.__pydantic_fields_set__


def pointer_from_record(record: PointerRecord) -> ExecutionPointer:
    """A pointer for what the store kept; changes to it do not reach the store."""
    fields, fields_set = record
    pointer = _new(ExecutionPointer)
    # plain attribute writes: the class's __setattr__ and __delattr__ are object's (see ExecutionPointer)
    pointer.__dict__ = _pointer_fields(fields)
    pointer.__pydantic_fields_set__ = set(fields_set)
    pointer.__pydantic_extra__ = None
    pointer.__pydantic_private__ = None
    return pointer


InstanceRecord = tuple[dict[str, Any], set[str]]
"""How the in-memory store keeps an instance's own fields: a copy of them (the data as JSON, as a real store
keeps it; the pointer and error lists left out) and its set of fields given when built, as for pointers."""


def instance_record(instance: WorkflowInstance) -> InstanceRecord:
    """What the store keeps of the instance's own fields; later changes to the instance do not reach it.

    Raises pydantic_core.PydanticSerializationError when the data is a model that cannot be dumped."""
    fields = instance.__dict__.copy()
    del fields["execution_pointers"], fields["errors"]
    data = fields["data"]
    # a model is kept as JSON (a fresh dict); other data is copied
    fields["data"] = data.model_dump(mode="json") if isinstance(data, BaseModel) else copy_value(data)
    return fields, instance.__pydantic_fields_set__


def instance_from_record(record: InstanceRecord, pointers: list[ExecutionPointer]) -> WorkflowInstance:
    """An instance for what the store kept, with ``pointers`` and no errors (the store keeps those apart);
    changes to it do not reach the store."""
    kept, fields_set = record
    fields = kept.copy()
    fields["data"] = copy_value(kept["data"])
    fields["execution_pointers"] = pointers
    fields["errors"] = []
    instance = _new(WorkflowInstance)
    instance.__dict__ = fields
    instance.__pydantic_fields_set__ = set(fields_set)
    instance.__pydantic_extra__ = None
    # a fresh private state: the open-pointer cache belongs to another pointer list
    instance.__pydantic_private__ = _fresh_private()
    return instance
