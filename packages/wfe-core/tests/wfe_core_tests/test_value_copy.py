"""copy_value: deep copies of workflow data, sharing only what cannot change in place."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from wfe_core.value_copy import copy_value


class Colour(enum.Enum):
    RED = "red"


class Name(str):
    pass


class Box:
    def __init__(self, items: list[int]) -> None:
        self.items = items


def test_json_shaped_values_are_copied_all_the_way_down() -> None:
    value = {"a": [1, {"b": [2, 3]}], "c": {}, "d": []}
    copied = copy_value(value)
    assert copied == value
    assert copied is not value
    assert copied["a"] is not value["a"]
    assert copied["a"][1] is not value["a"][1]
    assert copied["a"][1]["b"] is not value["a"][1]["b"]
    assert copied["c"] is not value["c"] and copied["d"] is not value["d"]
    copied["a"][1]["b"].append(4)
    copied["c"]["new"] = 1
    assert value == {"a": [1, {"b": [2, 3]}], "c": {}, "d": []}


def test_an_empty_dict_is_a_new_dict() -> None:
    empty: dict[str, int] = {}
    copied = copy_value(empty)
    assert copied == {} and copied is not empty


def test_values_that_cannot_change_are_shared() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    for value in (
        "text",
        3,
        2.5,
        True,
        None,
        when,
        date(2026, 1, 2),
        timedelta(seconds=3),
        Colour.RED,
        Name("x"),
    ):
        assert copy_value(value) is value
    assert copy_value([when, Colour.RED])[1] is Colour.RED


def test_other_objects_are_deep_copied() -> None:
    box = Box([1, 2])
    inner = [2]
    copied = copy_value({"box": box, "amount": Decimal("1.5"), "pair": (1, inner)})
    assert copied["box"] is not box and copied["box"].items == [1, 2]
    assert copied["box"].items is not box.items
    assert copied["amount"] == Decimal("1.5")
    assert copied["pair"] == (1, [2]) and copied["pair"][1] is not inner
