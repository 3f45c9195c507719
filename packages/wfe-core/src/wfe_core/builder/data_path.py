"""Writing a value into workflow data at a dotted path (dict keys or model attributes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def set_data_path(data: Any, path: str, value: Any) -> None:
    """Set ``path`` (``"a.b.c"``) in ``data``, creating intermediate dicts where data is a dict."""
    parts = path.split(".")
    target = data
    for part in parts[:-1]:
        if isinstance(target, dict):
            target = target.setdefault(part, {})
        else:
            target = getattr(target, part)
    last = parts[-1]
    if isinstance(target, dict):
        target[last] = value
    elif isinstance(target, BaseModel) or hasattr(target, last):
        setattr(target, last, value)
    else:
        raise AttributeError(f"cannot set '{path}' on {type(data).__name__} data")
