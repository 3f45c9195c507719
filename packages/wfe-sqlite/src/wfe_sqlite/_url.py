"""Parsing ``sqlite:`` URLs into a database path and connection options."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from wfe_core.errors import ConfigurationError
from wfe_core.option_values import refused, seconds_option

MEMORY = ":memory:"

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteOptions(BaseModel):
    """How a database file is opened.

    ``synchronous``: FULL (default) fsyncs the write-ahead log on every commit, so a committed pass survives a
    power loss; NORMAL skips that fsync (a commit survives a crash of the process but the last commits may be
    lost on power loss or an OS crash). ``busy_timeout`` (seconds) is how long a writer waits for another
    process's write transaction before failing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    synchronous: str = "FULL"
    busy_timeout: float = 10.0

    def __init__(self, **options: Any) -> None:
        try:
            super().__init__(**options)
        except ValidationError as exc:
            raise refused("SqliteOptions", exc, list(type(self).model_fields)) from None

    @field_validator("synchronous", mode="before")
    @classmethod
    def _level(cls, value: object) -> str:
        level = str(value).upper()
        if level not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"synchronous={value!r} is not a SQLite synchronous level: use one of "
                + ", ".join(_SYNCHRONOUS)
            )
        return level

    @field_validator("busy_timeout", mode="before")
    @classmethod
    def _busy_timeout(cls, value: object) -> float:
        return seconds_option("SQLite", "busy_timeout", value, allow_zero=True)


def parse_sqlite_url(url: str, **options: Any) -> tuple[str, SqliteOptions, dict[str, str]]:
    """Split ``url`` into (path, connection options, remaining query parameters).

    Accepted forms: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite://:memory:`` and
    ``sqlite:///:memory:``. Query parameters ``synchronous`` and ``busy_timeout`` set connection options;
    keyword ``options`` override them. Other query parameters are returned for the provider to use
    (e.g. ``visibility_timeout`` for the queue).
    """
    if url in (MEMORY, "sqlite://" + MEMORY, "sqlite:///" + MEMORY):
        return MEMORY, _options({}, options), {}
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ConfigurationError(
            f"not a sqlite URL: {url!r} (expected sqlite:///relative.db or sqlite:////abs/path.db)"
        )
    netloc = parts.netloc
    path = unquote(parts.path)
    if netloc == MEMORY and path in ("", "/"):
        path = "/" + MEMORY
    elif netloc:
        raise ConfigurationError(
            f"sqlite URL {url!r} names a host ({netloc!r}); SQLite is a local file: "
            "use sqlite:///relative.db or sqlite:////abs/path.db"
        )
    if not path.startswith("/") or path == "/":
        raise ConfigurationError(
            f"sqlite URL {url!r} names no file: use sqlite:///relative.db or sqlite:////abs/path.db"
        )
    # sqlite:///x.db has path "/x.db" (relative "x.db"); sqlite:////abs.db has path "//abs.db" ("/abs.db").
    path = path[1:]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return path, _options(query, options), query


def _options(query: dict[str, str], options: dict[str, Any]) -> SqliteOptions:
    synchronous = options.pop("synchronous", None) or query.pop("synchronous", None) or "FULL"
    raw_timeout = options.pop("busy_timeout", None)
    if raw_timeout is None:
        raw_timeout = query.pop("busy_timeout", None)
    busy_timeout = 10.0 if raw_timeout is None else seconds(raw_timeout, "busy_timeout")
    return SqliteOptions(synchronous=str(synchronous), busy_timeout=busy_timeout)


def seconds(raw: Any, name: str = "value") -> float:
    """``raw`` (a number, numeric string or timedelta) as float seconds."""
    try:
        return float(raw.total_seconds() if hasattr(raw, "total_seconds") else raw)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from exc
