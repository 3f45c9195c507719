"""The ``config:`` of a git-repo step."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wfe_core.errors import ConfigurationError
from wfe_yaml.durations import parse_duration_ms
from wfe_yaml.git.masking import mask_url
from wfe_yaml.schema import Duration

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


class GitRepoConfig(BaseModel):
    """Configuration of a ``type: git-repo`` step: clone ``url`` at ``ref`` into ``working_dir``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        None, description="The repository to clone (https://, ssh://, git@host:path, a path)."
    )
    run: str | None = Field(None, description="Same as url (the Rust WFE's spelling).")
    ref: str | None = Field(
        None,
        description="Branch, tag or full commit sha to check out (default: the remote's default branch).",
    )
    branch: str | None = Field(None, description="Same as ref, for a branch (the Rust WFE's spelling).")
    commit: str | None = Field(
        None,
        description="A commit to check out after cloning ref/branch (a full sha or one its history holds).",
    )
    depth: int | None = Field(None, ge=1, description="Clone only this many commits of history (shallow).")
    submodules: bool = Field(
        False, description="Also clone the submodules, recursively (as shallow as depth)."
    )
    working_dir: str | None = Field(
        None,
        description="Where to clone (must not exist or be empty); relative paths from the data's "
        "__wfe_working_dir, else the host's working directory. Default: a temporary folder removed after the "
        "step (the checkout stays available as the artifact).",
    )
    artifact: str | None = Field(
        None, description="Name of the checkout's artifact (default: the step name)."
    )
    input: str | None = Field(
        None,
        description="An artifact (or a data key holding an artifact reference) to use instead of cloning, "
        "when it exists.",
    )
    token_env: str | None = Field(
        None,
        description="Host environment variable holding an HTTPS token (sent as an HTTP header, never in the URL "
        "or on the command line).",
    )
    username: str = Field("x-access-token", description="User name sent with token_env's token.")
    timeout: Duration | None = Field(None, description="Fail the step when git runs longer than this.")

    @field_validator("token_env")
    @classmethod
    def _token_env_name(cls, value: str | None) -> str | None:
        if value is not None and not VARIABLE_NAME.fullmatch(value):
            raise ConfigurationError(
                f"{value!r} is not an environment variable name: name the variable, such as GIT_TOKEN"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration_ms(value)
        return value

    @field_validator("url", "run", "ref", "branch", "commit")
    @classmethod
    def _no_option_injection(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.startswith("-") or "\x00" in value):
            raise ConfigurationError(f"{mask_url(value)!r} must be non-empty and must not start with '-'")
        return value

    @model_validator(mode="after")
    def _one_of_each(self) -> GitRepoConfig:
        if self.url is not None and self.run is not None:
            raise ConfigurationError("give the repository once: 'url' or 'run', not both")
        if self.ref is not None and self.branch is not None:
            raise ConfigurationError("give the ref once: 'ref' or 'branch', not both")
        return self

    @property
    def repository(self) -> str | None:
        return self.url if self.url is not None else self.run

    @property
    def checkout_ref(self) -> str | None:
        return self.ref if self.ref is not None else self.branch

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else parse_duration_ms(self.timeout) / 1000
