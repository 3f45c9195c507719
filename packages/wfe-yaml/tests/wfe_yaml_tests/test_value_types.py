"""Type strings and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfe_yaml.durations import parse_duration, parse_duration_ms
from wfe_yaml.value_types import TypeStringError, ValueType, parse_type


@pytest.mark.parametrize("name", ["string", "number", "integer", "bool", "any"])
def test_primitives(name: str) -> None:
    assert parse_type(name) == ValueType(name)
    assert parse_type(f"{name}?") == ValueType(name, optional=True)


def test_generics_nest_and_round_trip() -> None:
    parsed = parse_type(" map< list<string?> >? ")
    assert parsed == ValueType("map", ValueType("list", ValueType("string", optional=True)), optional=True)
    for text in ("list<string>", "map<number>", "list<map<integer>>?", "list<string>?"):
        assert str(parse_type(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Empty type string"),
        ("?", "Empty type string"),
        ("float", "Unknown type: 'float'"),
        ("set<string>", "Unknown generic type: 'set'"),
        ("list<string", "Malformed generic type: 'list<string' (missing closing '>')"),
    ],
)
def test_type_errors_use_the_rust_wording(text: str, message: str) -> None:
    with pytest.raises(TypeStringError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_type(text)


def test_type_capabilities() -> None:
    assert parse_type("integer?").is_numeric and not parse_type("string").is_numeric
    assert parse_type("list<bool>").supports_contains and not parse_type("bool").supports_contains
    assert parse_type("any").is_nullable and not parse_type("string").is_nullable


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("500ms", 500),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("500", 500),
        (250, 250),
        ("1.5s", 1500),
    ],
)
def test_durations(value: object, ms: int) -> None:
    assert parse_duration_ms(value) == ms
    assert parse_duration(value) == timedelta(milliseconds=ms)


@pytest.mark.parametrize("value", ["soon", "5 parsecs", "-1s", True, None, [], -5])
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_ms(value)
