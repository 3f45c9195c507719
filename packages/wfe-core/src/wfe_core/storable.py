"""Finding the values a store may refuse to keep: NUL characters in text, NaN and infinite numbers."""

from __future__ import annotations

import math
from typing import Any

from wfe_core.models import ExecutionPointer, WorkflowInstance, to_jsonable


def doubtful_values(instance: WorkflowInstance, pointers: list[ExecutionPointer]) -> list[str]:
    """Where the instance's data, or one of ``pointers``, holds a NUL character or a NaN or infinite number,
    as readable paths (``data['x']``, ``pointer 'step' outcome``): what to name when the store refused a write."""
    found = _scan(to_jsonable(instance.data), "data")
    for pointer in pointers:
        for field in ("outcome", "event_data", "persistence_data", "extension_attributes"):
            found += _scan(to_jsonable(getattr(pointer, field)), f"step '{pointer.step_name}' {field}")
    return found


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


__all__ = ["doubtful_values"]
