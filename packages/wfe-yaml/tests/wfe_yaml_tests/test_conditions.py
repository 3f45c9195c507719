"""Run-time evaluation of ``when`` conditions (the Rust semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from wfe_yaml.conditions import ConditionError, evaluate, json_equal, resolve_path
from wfe_yaml.schema import Condition

DATA = {
    "name": "main",
    "count": 5,
    "tags": ["a", "b"],
    "flag": True,
    "nothing": None,
    "nested": {"list": [1, 2]},
}


def cond(**fields: Any) -> Condition:
    return Condition.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"field": ".outputs.name", "equals": "main"}, True),
        ({"field": ".inputs.name", "not_equals": "main"}, False),
        ({"field": "count", "gt": 4}, True),
        ({"field": "count", "gte": 5}, True),
        ({"field": "count", "lt": 5}, False),
        ({"field": "count", "lte": 5.0}, True),
        ({"field": "name", "contains": "ai"}, True),
        ({"field": "tags", "contains": "b"}, True),
        ({"field": "nothing", "is_null": True}, True),
        ({"field": "missing", "is_null": True}, True),
        ({"field": "missing", "is_not_null": True}, False),
        ({"field": "name", "is_not_null": True}, True),
        ({"field": "missing", "equals": None}, False),
        ({"field": "nested.list.1", "equals": 2}, True),
        ({"field": "flag", "equals": 1}, False),
    ],
)
def test_comparisons(fields: dict[str, Any], expected: bool) -> None:
    assert evaluate(cond(**fields), DATA) is expected


def test_combinators() -> None:
    yes, no = {"field": "flag", "equals": True}, {"field": "flag", "equals": False}
    assert evaluate(cond(all=[yes, yes]), DATA) and not evaluate(cond(all=[yes, no]), DATA)
    assert evaluate(cond(all=[]), DATA) and not evaluate(cond(any=[]), DATA)
    assert evaluate(cond(any=[no, yes]), DATA)
    assert evaluate(cond(none=[no, no]), DATA) and not evaluate(cond(none=[yes]), DATA)
    assert evaluate(cond(one_of=[yes, no]), DATA) and not evaluate(cond(one_of=[yes, yes]), DATA)
    assert evaluate(cond(**{"not": no}), DATA)


def test_type_errors_fail() -> None:
    with pytest.raises(ConditionError, match="not a number"):
        evaluate(cond(field="name", gt=1), DATA)
    with pytest.raises(ConditionError, match="neither a string nor a list"):
        evaluate(cond(field="count", contains=1), DATA)


def test_paths_keep_a_real_outputs_key() -> None:
    data = {"outputs": {"x": 1}, "x": 2}
    assert resolve_path(data, ".outputs.x") == 1
    assert resolve_path({"x": 2}, ".outputs.x") == 2
    assert resolve_path(data, "") is data


def test_json_equality() -> None:
    assert json_equal(1, 1.0) and not json_equal(True, 1) and json_equal([1, {"a": True}], [1.0, {"a": True}])
