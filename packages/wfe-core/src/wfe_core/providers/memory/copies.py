"""Fast deep copies of stored values, so callers and the in-memory store never share mutable state."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from pydantic import BaseModel

from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_core.value_copy import IMMUTABLE, copy_value

_M = TypeVar("_M", bound=BaseModel)

_IMMUTABLE = IMMUTABLE

_POINTER_MUTABLE_FIELDS = (
    "persistence_data",
    "event_data",
    "children",
    "scope",
    "context_item",
    "outcome",
    "extension_attributes",
)


_STRING_LISTS = frozenset({"children", "scope"})
_new = object.__new__
_set = object.__setattr__


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


def copy_pointer(pointer: ExecutionPointer) -> ExecutionPointer:
    """A deep copy of a pointer (about six times faster than ``model_copy(deep=True)``).

    Built field by field rather than through ``copy.copy``: a load copies every pointer of the instance, so
    this is the in-memory store's cost per pointer of history."""
    fields = pointer.__dict__.copy()
    for name in _POINTER_MUTABLE_FIELDS:
        value = fields[name]
        kind = type(value)
        if kind is list:
            # scope and children hold strings: a shallow copy is a deep one
            fields[name] = value[:] if name in _STRING_LISTS else copy_value(value)
        elif kind is dict:
            fields[name] = copy_value(value) if value else {}
        elif not isinstance(value, _IMMUTABLE):
            fields[name] = copy_value(value)
    duplicate = _new(ExecutionPointer)
    _set(duplicate, "__dict__", fields)
    _set(duplicate, "__pydantic_fields_set__", set(pointer.__pydantic_fields_set__))
    _set(duplicate, "__pydantic_extra__", None)
    _set(duplicate, "__pydantic_private__", None)
    return duplicate


def copy_instance_fields(instance: WorkflowInstance) -> WorkflowInstance:
    """A copy of the instance's own fields with empty pointer and error lists; the data is copied as given.

    The errors are not the instance's stored state (the store keeps them apart), so they are never copied."""
    fields = instance.__dict__.copy()
    fields["execution_pointers"] = []
    fields["errors"] = []
    fields["data"] = copy_value(instance.data)
    duplicate = _new(WorkflowInstance)
    _set(duplicate, "__dict__", fields)
    _set(duplicate, "__pydantic_fields_set__", set(instance.__pydantic_fields_set__))
    _set(duplicate, "__pydantic_extra__", None)
    # a fresh private state: the open-pointer cache belongs to the original's pointer list
    _set(duplicate, "__pydantic_private__", _fresh_private())
    return duplicate
