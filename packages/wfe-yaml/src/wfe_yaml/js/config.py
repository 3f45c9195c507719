"""The ``config:`` of a JavaScript step (``type: deno`` / ``js``), as pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wfe_core.errors import ConfigurationError
from wfe_yaml.durations import MAX_DURATION_MS

DEFAULT_TIMEOUT_SECONDS = 300.0
"""A step without ``timeout`` still stops eventually: a forgotten loop cannot hold a worker forever."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 0.001}


def parse_duration(value: Any) -> float:
    """Seconds from ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"`` or a bare number of milliseconds."""
    if isinstance(value, bool):
        raise ConfigurationError(
            f"invalid duration {value!r}: use e.g. '30s', '500ms' or a number of milliseconds"
        )
    if isinstance(value, int | float):
        seconds = float(value) / 1000.0
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ConfigurationError(
                f"invalid duration {value!r}: use e.g. '30s', '500ms', '5m' or a number of milliseconds"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ConfigurationError(f"duration {value!r} must be positive")
    if not seconds <= MAX_DURATION_MS / 1000:  # also NaN
        raise ConfigurationError(
            f"invalid duration {value!r}: at most a year (8760h); use e.g. '30s' or '5m'"
        )
    return seconds


class JsPermissions(BaseModel):
    """What a script may reach; everything is denied by default.

    ``net``: hosts ``fetch`` may contact, as ``host`` (any port) or ``host:port``; ``read``: directories (or
    files) ``readFile`` may read below; ``env``: host environment variables the script may read; ``write`` and
    ``run`` are accepted for compatibility, but scripts have no API that writes files or starts processes;
    ``dynamic_import``: ``import``/``import()`` of the modules listed in the step's ``modules``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    net: list[str] = Field(default_factory=list)
    read: list[str] = Field(default_factory=list)
    write: list[str] = Field(default_factory=list)
    env: list[str] = Field(default_factory=list)
    run: bool = False
    dynamic_import: bool = False

    @field_validator("net", "read", "write", "env", mode="before")
    @classmethod
    def _string_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            raise ConfigurationError("must be a list of strings, e.g. ['api.example.com']")
        return value


class JsConfig(BaseModel):
    """A JavaScript step's configuration.

    Exactly one of ``script`` (inline source) or ``file`` (a path to the source) is required. ``timeout``
    takes ``"30s"``/``"500ms"``/``"5m"`` or bare milliseconds (``timeout_ms`` is the Rust spelling);
    ``env`` is a map of values the script reads with ``Deno.env.get``/``Wfe.env.get``; ``modules`` lists the
    module specifiers ``import`` may load when ``permissions.dynamic_import`` is on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    script: str | None = None
    file: str | None = None
    permissions: JsPermissions = Field(default_factory=JsPermissions)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    env: dict[str, str] = Field(default_factory=dict)
    modules: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _rust_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and "timeout_ms" in data:
            data = dict(data)
            if "timeout" in data:
                raise ConfigurationError("give either 'timeout' or 'timeout_ms', not both")
            data["timeout"] = data.pop("timeout_ms")
        if isinstance(data, dict) and data.get("permissions") is None and "permissions" in data:
            data = {k: v for k, v in data.items() if k != "permissions"}
        return data

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _source(self) -> JsConfig:
        if (self.script is None) == (self.file is None):
            raise ConfigurationError(
                "must have 'script' or 'file' in config (exactly one): "
                "inline source, or a path to a .js/.ts file"
            )
        return self


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
