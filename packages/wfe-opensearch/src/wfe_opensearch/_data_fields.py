"""How data leaves become typed, flattened fields (shared by documents and queries).

A data path such as ``customer.id`` becomes one flat field name with no dots (``customer/id``), so a path
that holds a scalar in one instance and an object in another never clashes in the mapping. Path segments are
escaped in the style of JSON Pointer: ``~`` as ``~0``, ``/`` as ``~1`` and ``.`` as ``~2``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


def escape_segment(segment: str) -> str:
    """One path segment as it appears in a field name."""
    return segment.replace("~", "~0").replace("/", "~1").replace(".", "~2")


def field_name(segments: Iterable[str]) -> str | None:
    """The flat field name of a path, or None when a segment cannot name a field (empty or blank)."""
    parts = list(segments)
    if not parts or any(not part.strip() for part in parts):
        return None
    return "/".join(escape_segment(part) for part in parts)


def field_name_for_path(path: str) -> str | None:
    """The flat field name of a dotted ``DataFilter.path``."""
    return field_name(path.split("."))


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC; a naive datetime is taken as UTC (the engine stores UTC throughout)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def parse_iso_datetime(text: str) -> datetime | None:
    """The datetime an ISO-8601 string spells (date-only means midnight UTC), else None."""
    if not _ISO_DATETIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def typed_value(value: Any) -> tuple[str, Any] | None:
    """The typed data object (``data_num`` ...) and JSON value for a filter value or data leaf, else None.

    Strings go to ``data_str`` only: a string filter value compares as a string, even when it looks like a
    date.
    """
    if isinstance(value, bool):
        return "data_bool", value
    if isinstance(value, int):
        return "data_num", value
    if isinstance(value, float):
        return ("data_num", value) if math.isfinite(value) else None
    if isinstance(value, str):
        return "data_str", value
    if isinstance(value, datetime):
        return "data_date", format_datetime(value)
    if isinstance(value, date):
        return "data_date", format_datetime(datetime.combine(value, time(), tzinfo=UTC))
    return None
