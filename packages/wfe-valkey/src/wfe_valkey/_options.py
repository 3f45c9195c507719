"""Provider options given as keyword arguments or as query parameters of the URL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from wfe_core.errors import ConfigurationError
from wfe_core.option_values import duration_option, seconds_option
from wfe_valkey._url import parse_valkey_url

_SECONDS = frozenset({"visibility_timeout", "retry_timeout", "reply_timeout", "health_check_interval"})


def as_timedelta(owner: str, name: str, value: timedelta | float) -> timedelta:
    """A duration given as a ``timedelta`` or as seconds, longer than zero; ``ConfigurationError`` naming
    ``owner`` and the option ``name`` otherwise."""
    return duration_option(owner, name, value)


def as_seconds(owner: str, name: str, value: float) -> float:
    """Seconds (a number, or a ``timedelta``) longer than zero; ``ConfigurationError`` naming the option."""
    return seconds_option(owner, name, value)


def from_url_options(url: str, options: dict[str, Any], accepted: Iterable[str]) -> dict[str, Any]:
    """Keyword arguments for a provider: the URL's wfe query options it accepts, overridden by ``options``.

    Query options meant for another provider sharing the URL (``visibility_timeout`` on a lock) are ignored.

    Raises:
        ConfigurationError: a query option that should be a number is not one.
    """
    merged: dict[str, Any] = {}
    for name, raw in parse_valkey_url(url).options.items():
        if name not in accepted:
            continue
        if name in _SECONDS:
            try:
                merged[name] = float(raw)
            except ValueError:
                raise ConfigurationError(f"URL option {name}={raw!r} must be a number of seconds") from None
        else:
            merged[name] = raw
    merged.update(options)
    return merged
