"""Finding the values a store may refuse to keep: NUL characters in text, NaN and infinite numbers, values
that are not JSON at all.

Nothing here runs on the way to a store: a store encodes as it always does and, only when its encoder fails,
calls :func:`unstorable` to find where the failing value is and raise an error that names it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pydantic_core
from pydantic import BaseModel

from wfe_core.errors import UnstorableDataError
from wfe_core.models import ExecutionPointer, WorkflowInstance, to_jsonable

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LEAVES = (str, int, float, bool, type(None))


def doubtful_values(instance: WorkflowInstance, pointers: list[ExecutionPointer]) -> list[str]:
    """Where the instance's data, or one of ``pointers``, holds a NUL character or a NaN or infinite number,
    as readable paths (``data['x']``, ``pointer 'step' outcome``): what to name when the store refused a write."""
    found = _scan(_jsonable(instance.data), "data")
    for pointer in pointers:
        for field in ("outcome", "event_data", "persistence_data", "extension_attributes"):
            found += _scan(_jsonable(getattr(pointer, field)), f"step '{pointer.step_name}' {field}")
    return found


def _jsonable(value: Any) -> Any:
    try:
        return to_jsonable(value)
    except pydantic_core.PydanticSerializationError:
        return None  # not JSON at all: unstorable() names it


def unstorable(value: Any, root: str = "data") -> UnstorableDataError | None:
    """The error naming the first value inside ``value`` that cannot be written as JSON, with its key path
    from ``root`` (``data.items[2].owner``); None when every value can be. A step's pointer anywhere inside is
    named by its step (``step 'charge'.outcome.receipt``).

    For a store whose JSON encoder failed: it walks the whole value, so call it after the failure, not before
    every write."""
    for path, leaf, kind in _leaves(value, root):
        try:
            pydantic_core.to_json(leaf)
        except (pydantic_core.PydanticSerializationError, TypeError, ValueError):
            return UnstorableDataError(path, kind)
    return None


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any, type]]:
    """Every value that is not a dict, list, tuple, set or pydantic model, with its key path and the type to
    name (depth first); a dict's key is given as a one-key dict."""
    if isinstance(value, ExecutionPointer):
        path = f"step '{value.step_name or value.step_id}'"
    if isinstance(value, _LEAVES):
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _leaves(getattr(value, name, None), f"{path}.{name}" if path else name)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and _NAME.fullmatch(key):
                step = f".{key}" if path else key
            else:
                step = f"[{key!r}]"
                if not isinstance(key, _LEAVES):
                    yield f"{path} key {key!r}", {key: None}, type(key)
            yield from _leaves(item, f"{path}{step}")
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value, type(value)


def _scan(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [f"{path} (a NUL character)"] if "\x00" in value else []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{path} ({value})"]
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            found += _scan(str(key), f"{path} key {key!r}") + _scan(item, f"{path}[{key!r}]")
        return found
    if isinstance(value, list | tuple):
        return [hit for index, item in enumerate(value) for hit in _scan(item, f"{path}[{index}]")]
    return []


__all__ = ["doubtful_values", "unstorable"]
