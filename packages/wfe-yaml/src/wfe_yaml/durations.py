"""Durations in YAML: ``500ms``, ``30s``, ``5m``, ``1h`` (decimals allowed); a bare number is milliseconds."""

from __future__ import annotations

import re
from datetime import timedelta

from wfe_core.errors import ConfigurationError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, None: 1}
MAX_DURATION_MS = 365 * 24 * 3_600_000  # a year: longer is a mistake (or infinity), not a plan


def _bounded(value: object, ms: float) -> int:
    if ms != ms or ms > MAX_DURATION_MS:  # NaN, infinity, or more than a year
        raise ConfigurationError(
            f"invalid duration {value!r}: at most a year (8760h); use e.g. 500ms, 30s, 5m, 1h"
        )
    return int(ms)


def parse_duration_ms(value: object) -> int:
    """The duration in whole milliseconds.

    Raises:
        ConfigurationError: not a duration; the message lists the accepted forms.
    """
    if isinstance(value, bool):
        raise ConfigurationError(
            f"invalid duration {value!r}: use e.g. 500ms, 30s, 5m, 1h or a number of milliseconds"
        )
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigurationError(f"invalid duration {value!r}: must not be negative")
        return _bounded(value, value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigurationError(
            f"invalid duration {value!r}: use e.g. 500ms, 30s, 5m, 1h or a number of milliseconds"
        )
    return _bounded(value, float(match.group(1)) * _UNIT_MS[match.group(2)])


def parse_duration(value: object) -> timedelta:
    """Like :func:`parse_duration_ms`, as a ``timedelta``."""
    return timedelta(milliseconds=parse_duration_ms(value))
