"""Run-time evaluation of ``when`` conditions against workflow data (the Rust semantics).

A path like ``.outputs.x`` or ``.inputs.x`` drops its ``outputs``/``inputs`` root when the data has no such
key (step outputs and inputs are merged flat into the data); numeric segments index lists. A comparison on a
missing field is false (``is_null`` is true for it); ``all`` of nothing is true, ``any`` of nothing false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfe_core.errors import StepError
from wfe_yaml.schema import Condition

_MISSING = object()


class ConditionError(StepError):
    """A condition cannot be evaluated (e.g. ``gt`` on a string); the step fails with it."""


def resolve_path(data: Any, field: str) -> Any:
    """The value at ``field`` in ``data``, or a private sentinel when absent."""
    path = field.removeprefix(".")
    if not path:
        return data
    segments = path.split(".")
    if segments[0] in ("outputs", "inputs") and not (isinstance(data, Mapping) and segments[0] in data):
        segments = segments[1:]
    node = data
    for segment in segments:
        if isinstance(node, Mapping) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: booleans never equal numbers, ``1 == 1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _number(value: Any, field: str, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConditionError(f"condition '{field} {op}': {value!r} is not a number")
    return float(value)


def _compare(cond: Condition, data: Any) -> bool:
    field = cond.field or ""
    value = resolve_path(data, field)
    op = cond.operators[0] if cond.operators else ""
    if value is _MISSING:
        return op == "is_null"
    if op == "is_null":
        return value is None
    if op == "is_not_null":
        return value is not None
    expected = getattr(cond, op)
    if op == "equals":
        return json_equal(value, expected)
    if op == "not_equals":
        return not json_equal(value, expected)
    if op in ("gt", "gte", "lt", "lte"):
        left, right = _number(value, field, op), _number(expected, field, op)
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    if op == "contains":
        if isinstance(value, str):
            if not isinstance(expected, str):
                raise ConditionError(f"condition '{field} contains': {expected!r} is not a string")
            return expected in value
        if isinstance(value, list):
            return any(json_equal(item, expected) for item in value)
        raise ConditionError(f"condition '{field} contains': {value!r} is neither a string nor a list")
    raise ConditionError(f"condition on '{field}' has no operator")


def evaluate(cond: Condition, data: Any) -> bool:
    """Whether ``cond`` holds for ``data``.

    Raises:
        ConditionError: an operator was applied to a value of the wrong type.
    """
    if cond.field is not None:
        return _compare(cond, data)
    if cond.all_ is not None:
        return all(evaluate(c, data) for c in cond.all_)
    if cond.any_ is not None:
        return any(evaluate(c, data) for c in cond.any_)
    if cond.none_ is not None:
        return not any(evaluate(c, data) for c in cond.none_)
    if cond.one_of is not None:
        return sum(1 for c in cond.one_of if evaluate(c, data)) == 1
    if cond.not_ is not None:
        return not evaluate(cond.not_, data)
    raise ConditionError("condition has neither a field nor a combinator")
