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
