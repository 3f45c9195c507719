"""The ``config:`` of a shell step."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wfe_core.errors import ConfigurationError
from wfe_yaml.durations import parse_duration_ms
from wfe_yaml.schema import Duration

DEFAULT_OUTPUT_LIMIT = 1024 * 1024
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ShellConfig(BaseModel):
    """Configuration of a ``type: shell`` step. Exactly one of ``run``, ``file`` or ``script``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str | None = Field(None, description="The command, run as `<shell> -c <run>`.")
    file: str | None = Field(
        None, description="A script file run as `<shell> <file>` (relative to working_dir)."
    )
    script: str | None = Field(None, description="Same as run (a multi-line script).")
    shell: str = Field("sh", description="The shell program (sh, bash, /bin/zsh, ...).")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables, applied last (they override data); WFE_PROCESS_TRACKING_ID "
        "is set by wfe and cannot be replaced.",
    )
    host_env: Literal["all", "none"] | list[str] | None = Field(
        None,
        description="Host environment variables the command inherits: all, none, or a list of names "
        "(default: the host's setting, all unless changed).",
    )
    stdout_directives: bool = Field(
        True,
        description="Read ##wfe[...] lines on stdout; false leaves $WFE_OUTPUT as the only way to set outputs.",
    )
    working_dir: str | None = Field(None, description="Directory the command runs in (default: the host's).")
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Artifacts to place before the command runs: artifact name -> mount point (a relative "
        "path lands in a temporary folder removed after the step); $INPUT_<NAME> holds each one's path.",
    )
    timeout: Duration | None = Field(
        None, description="Kill the command's process group after this long (SIGTERM, then SIGKILL)."
    )
    output_limit: int = Field(
        DEFAULT_OUTPUT_LIMIT,
        gt=0,
        description="Bytes of stdout and of stderr kept in the results (default 1 MiB each).",
    )
    kill_grace: Duration = Field(
        "2s", description="Wait between SIGTERM and SIGKILL on timeout or cancellation."
    )

    @field_validator("env", mode="before")
    @classmethod
    def _env_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    "true"
                    if v is True
                    else "false"
                    if v is False
                    else ""
                    if v is None
                    else str(v)
                    if isinstance(v, (int, float))
                    else v
                )
                for k, v in value.items()
            }
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not VARIABLE_NAME.fullmatch(name):
                raise ConfigurationError(
                    f"{name!r} is not an environment variable name: use letters, digits and '_', not starting "
                    "with a digit"
                )
            if "\x00" in text:
                raise ConfigurationError(
                    f"the value of {name} holds a NUL character, which no environment can hold"
                )
        return value

    @field_validator("inputs")
    @classmethod
    def _input_mounts(cls, value: dict[str, str]) -> dict[str, str]:
        for name, mount in value.items():
            if not name or "\x00" in name:
                raise ConfigurationError(
                    f"{name!r} is not an artifact name: use a non-empty name without NUL characters"
                )
            parts = PurePosixPath(mount).parts
            if not mount or "\x00" in mount or (not PurePosixPath(mount).is_absolute() and ".." in parts):
                raise ConfigurationError(
                    f"inputs.{name}: {mount!r} is not a mount point: use an absolute path or a relative one "
                    "without '..'"
                )
        return value

    @field_validator("host_env")
    @classmethod
    def _host_env_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            for name in value:
                if not VARIABLE_NAME.fullmatch(name):
                    raise ConfigurationError(
                        f"{name!r} is not an environment variable name: list names such as PATH or HOME"
                    )
        return value

    @field_validator("timeout", "kill_grace")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration_ms(value)
        return value

    @property
    def timeout_ms(self) -> int | None:
        return None if self.timeout is None else parse_duration_ms(self.timeout)

    @property
    def kill_grace_seconds(self) -> float:
        return parse_duration_ms(self.kill_grace) / 1000

    def argv(self) -> list[str]:
        """The command line: ``[shell, "-c", run]`` or ``[shell, file]``."""
        if self.file is not None:
            return [self.shell, self.file]
        command = self.run if self.run is not None else self.script
        assert command is not None
        return [self.shell, "-c", command]
