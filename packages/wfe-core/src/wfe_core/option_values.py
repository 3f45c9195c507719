"""Checks of the options providers take as keyword arguments or URL query parameters (``?visibility_timeout=60``).

Each check runs once, when the provider is made, and raises a :class:`~wfe_core.errors.ConfigurationError` naming
the provider, the option, the value and the fix, instead of a ``TypeError`` or a raw ``ValueError`` when the
value is first used.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import ValidationError

from wfe_core.errors import ConfigurationError


def seconds_option(owner: str, name: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` (a number, a numeric string from a URL, or a ``timedelta``) as seconds, longer than zero
    (or zero too with ``allow_zero``)."""
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "longer than zero"
        raise ConfigurationError(
            f"{owner} option {name} must be a number of seconds {least} (or a timedelta), not {value!r}: "
            f"give e.g. {name}=30"
        )
    return seconds


def duration_option(owner: str, name: str, value: object, *, allow_zero: bool = False) -> timedelta:
    """As :func:`seconds_option`, as a ``timedelta``."""
    if isinstance(value, timedelta):
        seconds_option(owner, name, value, allow_zero=allow_zero)
        return value
    return timedelta(seconds=seconds_option(owner, name, value, allow_zero=allow_zero))


def refused(owner: str, exc: ValidationError, options: list[str] | None = None) -> ConfigurationError:
    """One ``ConfigurationError`` for the problems pydantic found in ``owner``'s options: a validator's own
    ``ConfigurationError`` is kept as it is (it names the option and the fix); an unknown option is named with
    the list of ``options``."""
    problems: list[str] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        where = ".".join(str(part) for part in error["loc"])
        if isinstance(cause, ConfigurationError):
            problems.append(str(cause))
        elif error["type"] == "extra_forbidden":
            known = f": the options are {', '.join(options)}" if options else ""
            problems.append(f"{owner} has no option {where!r}{known}")
        else:
            problems.append(f"{owner}.{where}: {error['msg']}" if where else f"{owner}: {error['msg']}")
    return ConfigurationError("; ".join(problems))


__all__ = ["duration_option", "refused", "seconds_option"]
