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

_Plan = tuple[tuple[tuple[str, Any, Callable[[], Any] | None], ...], dict[str, Any] | None]
_plans: dict[type[BaseModel], _Plan] = {}
_new = object.__new__
_set = object.__setattr__


def _plan(cls: type[BaseModel]) -> _Plan:
    fields: list[tuple[str, Any, Callable[[], Any] | None]] = []
    for name, info in cls.model_fields.items():
        factory: Any = info.default_factory
        fields.append((name, info.default, factory))
    private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()} or None
    plan = (tuple(fields), private)
    _plans[cls] = plan
    return plan


def trusted(cls: type[_M], **values: Any) -> _M:
    """An instance of ``cls`` holding ``values`` as given; fields left out take their defaults.

    For the engine's own values only: nothing is validated or converted. A required field left out raises
    ``TypeError``."""
    fields, private = _plans.get(cls) or _plan(cls)
    data: dict[str, Any] = {}
    for name, default, factory in fields:
        if name in values:
            data[name] = values[name]
        elif factory is not None:
            data[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{cls.__name__}.{name} is required")
        else:
            data[name] = default
    model = _new(cls)
    _set(model, "__dict__", data)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", private.copy() if private is not None else None)
    return model
