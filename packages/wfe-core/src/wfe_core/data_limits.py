"""What workflow and event data may hold: text every store can encode, nesting every encoder can walk.

Data given to ``start_workflow`` or ``publish_event`` is checked before anything copies or stores it, so a
string with a lone surrogate (Python accepts one, UTF-8 cannot encode it) or a structure nested thousands of
levels deep (``copy.deepcopy`` and the JSON encoders recurse) is refused with its location, instead of a
``UnicodeEncodeError`` or ``RecursionError`` from deep inside a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfe_core.errors import WorkflowDataError

MAX_DATA_DEPTH = 100
"""How deeply dicts and lists may nest in workflow and event data."""


def _where(path: list[Any]) -> str:
    return "data" + "".join(f"[{part!r}]" for part in path)


def _check_text(text: str, path: list[Any], what: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WorkflowDataError(
            f"{what} at {_where(path)} holds a lone surrogate ({text[exc.start]!r} at index {exc.start}), "
            "which no store can encode: decode bytes with errors='replace' (or pass them as base64)"
        ) from None


def check_data(data: Any, what: str = "workflow data") -> None:
    """Raise :class:`WorkflowDataError` when ``data`` nests deeper than :data:`MAX_DATA_DEPTH` or holds a
    string (value or key) that is not valid Unicode. Objects other than dicts, lists and tuples (pydantic
    models among them) are not walked: their own validation applies."""
    if not data and (data is None or type(data) is dict):
        return  # no data, or an empty dict: nothing to walk (most starts)
    stack: list[tuple[Any, list[Any]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path, what)
            continue
        if isinstance(value, Mapping):
            items: list[tuple[Any, Any]] = list(value.items())
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        else:
            continue
        if len(path) >= MAX_DATA_DEPTH:
            raise WorkflowDataError(
                f"{what} nests deeper than {MAX_DATA_DEPTH} levels (at {_where(path[:3])}...): flatten it, or "
                "pass the structure as one JSON string"
            )
        for key, item in items:
            if isinstance(key, str):
                _check_text(key, path, f"a key of {what}")
            stack.append((item, [*path, key]))
