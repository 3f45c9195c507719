"""Building models from the engine's own values without validation, faster than ``model_construct``.

``BaseModel.model_construct`` inspects the signature of every default factory on every call (to see whether
it takes the other fields), which costs more than validating. The engine builds several models per pass
(new pointers, lifecycle events) from values it made itself; this builds them from a per-class plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_M = TypeVar("_M", bound=BaseModel)


class _Plan:
    """What building one model class takes: its fields' defaults in field order, the factories to call for
    fields left out, the required fields, and the default private state."""

    __slots__ = ("factories", "plain_writes", "private", "required", "template")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.template: dict[str, Any] = {}
        self.factories: list[tuple[str, Callable[[], Any]]] = []
        required: set[str] = set()
        for name, info in cls.model_fields.items():
            factory: Any = info.default_factory
            if factory is not None:
                self.factories.append((name, factory))
                self.template[name] = None  # keeps the field order of __dict__
            elif info.default is PydanticUndefined:
                required.add(name)
                self.template[name] = None
            else:
                self.template[name] = info.default
        self.required = frozenset(required)
        self.private = {name: a.get_default() for name, a in cls.__private_attributes__.items()} or None
        # a class whose attribute writes are object's own (ExecutionPointer, WorkflowInstance) takes plain
        # writes, a quarter of the cost of calling object.__setattr__ as a function
        self.plain_writes = cls.__setattr__ is _set and cls.__delattr__ is object.__delattr__


_plans: dict[type[BaseModel], _Plan] = {}
_new = object.__new__
_set = object.__setattr__


def assembled(cls: type[_M], fields: dict[str, Any], given: set[str], private: dict[str, Any] | None) -> _M:
    """A model of ``cls`` (whose ``__setattr__`` and ``__delattr__`` are object's, like ``ExecutionPointer``'s and
    ``WorkflowInstance``'s) around ``fields``, all of them in field order, with ``given`` as its fields set and
    ``private`` as its private state; the dicts and the set become the model's own."""
    model = _new(cls)
    # plain attribute writes: the class's __setattr__ and __delattr__ are object's
    model.__dict__ = fields
    model.__pydantic_fields_set__ = given
    model.__pydantic_extra__ = None
    model.__pydantic_private__ = private
    return model


def trusted(cls: type[_M], **values: Any) -> _M:
    """An instance of ``cls`` holding ``values`` as given; fields left out take their defaults.

    For the engine's own values only: nothing is validated or converted. A required field left out raises
    ``TypeError``."""
    plan = _plans.get(cls)
    if plan is None:
        plan = _plans[cls] = _Plan(cls)
    if not plan.required <= values.keys():
        raise TypeError(f"{cls.__name__} needs {', '.join(sorted(plan.required - values.keys()))}")
    data = plan.template.copy()
    data.update(values)
    for name, factory in plan.factories:
        if name not in values:
            data[name] = factory()
    private = plan.private.copy() if plan.private is not None else None
    if plan.plain_writes:
        return assembled(cls, data, set(values), private)
    model = _new(cls)
    _set(model, "__dict__", data)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", private)
    return model
