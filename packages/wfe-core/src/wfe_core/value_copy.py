"""Deep copies of plain values (workflow data, a step's outputs), fast for the JSON-shaped values they usually are."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

IMMUTABLE = (str, int, float, bool, type(None), datetime, date, time, timedelta, Enum)
"""Types whose values are never changed in place: a copy may share them."""


_SHARED = frozenset({str, int, float, bool, type(None), datetime, date, time, timedelta})
"""The exact types of ``IMMUTABLE`` looked up first: a set lookup costs less than ``isinstance`` over ten types."""


def copy_value(value: Any) -> Any:
    """A deep copy of ``value``; JSON-shaped values (the usual case) are copied without ``copy.deepcopy``, which
    costs several times as much for them."""
    kind = type(value)
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()} if value else {}
    if kind in _SHARED:
        return value
    if kind is list:
        return [copy_value(item) for item in value]
    if isinstance(value, IMMUTABLE):  # subclasses (enums, str and int subclasses)
        return value
    return copy.deepcopy(value)
