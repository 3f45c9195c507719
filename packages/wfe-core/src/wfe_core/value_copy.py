"""Deep copies of plain values (workflow data, a step's outputs), fast for the JSON-shaped values they usually are."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

IMMUTABLE = (str, int, float, bool, type(None), datetime, date, time, timedelta, Enum)
"""Types whose values are never changed in place: a copy may share them."""


def copy_value(value: Any) -> Any:
    """A deep copy of ``value``; JSON-shaped values (the usual case) are copied without ``copy.deepcopy``, which
    costs several times as much for them."""
    if isinstance(value, IMMUTABLE):
        return value
    if type(value) is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_value(item) for item in value]
    return copy.deepcopy(value)
