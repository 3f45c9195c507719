"""How workflow data reaches a shell command: environment variables, never text in the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wfe_core.models import is_artifact_data
from wfe_yaml.shell.errors import ShellEnvironmentError
from wfe_yaml.shell.interpreted import is_interpreted

_INVALID = re.compile(r"[^A-Z0-9_]")


def env_name(key: str) -> str:
    """A data key as an environment variable name: upper-cased, other characters turned into ``_``, and a
    leading digit prefixed with ``_`` (``echo-step.stdout`` becomes ``ECHO_STEP_STDOUT``)."""
    name = _INVALID.sub("_", key.upper())
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def is_protected(name: str) -> bool:
    """Whether data may not set the variable ``name``: programs interpret it (see
    :mod:`wfe_yaml.shell.interpreted`)."""
    return is_interpreted(name)


def env_value(value: Any) -> str:
    """Strings go in raw; every other value as its JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


# Linux refuses to start a program whose single "NAME=value" string exceeds MAX_ARG_STRLEN (128 KiB), or
# whose whole environment is too large; a big value (a previous step's stdout, say) must not make every later
# step fail to spawn, so such values are left to the data file.
MAX_VARIABLE_BYTES = 128 * 1024 - 1
DATA_ENV_BUDGET = 1024 * 1024


@dataclass(slots=True)
class CommandEnvironment:
    """The environment for one command, and the data keys too large to pass as variables."""

    variables: dict[str, str]
    too_large: list[str] = field(default_factory=list)
    withheld: list[tuple[str, str]] = field(default_factory=list)  # (data key, why it is not a variable)


def _size(name: str, value: str) -> int:
    return len(name.encode()) + 1 + len(value.encode("utf-8", errors="surrogatepass"))


def build_environment(
    base: Mapping[str, str],
    data: Mapping[str, Any],
    config_env: Mapping[str, str],
    *,
    output_file: str,
    data_file: str,
    inputs: Mapping[str, str] | None = None,
) -> CommandEnvironment:
    """The command's environment: ``base``, then each top-level data key (names programs interpret and names
    ``base`` sets withheld, NUL bytes dropped since no environment can hold them, values too large for an
    environment left out, artifact references left to ``inputs``), ``WFE_DATA`` (when small enough),
    ``WFE_DATA_FILE`` and ``WFE_OUTPUT``, ``INPUT_<NAME>`` for each of ``inputs`` (artifact name -> path),
    then ``config_env``.

    Raises:
        ShellEnvironmentError: two data keys become the same variable name.

    ``data_file`` must already hold the data as JSON; it is the complete copy whatever the sizes."""
    result = CommandEnvironment(dict(base))
    env = result.variables
    budget = DATA_ENV_BUDGET
    owners: dict[str, str] = {}
    for key, value in data.items():
        name = env_name(str(key))
        if is_artifact_data(value):
            result.withheld.append((str(key), "an artifact reference: place it with config.inputs"))
            continue
        if is_protected(name):
            result.withheld.append((str(key), f"programs interpret ${name}"))
            continue
        if name in base:
            result.withheld.append((str(key), f"the host environment sets ${name}"))
            continue
        if name in owners:
            raise ShellEnvironmentError(
                f"Data keys '{owners[name]}' and '{key}' both become the environment variable ${name}; "
                "rename one of them (or read both from $WFE_DATA_FILE)"
            )
        owners[name] = str(key)
        text = env_value(value).replace("\x00", "")
        size = _size(name, text)
        if size > MAX_VARIABLE_BYTES or size > budget:
            result.too_large.append(str(key))
            continue
        budget -= size
        env[name] = text
    whole = json.dumps(dict(data), default=str).replace("\x00", "")
    if _size("WFE_DATA", whole) <= min(MAX_VARIABLE_BYTES, budget):
        env["WFE_DATA"] = whole
    env["WFE_DATA_FILE"] = data_file
    env["WFE_OUTPUT"] = output_file
    for artifact, path in (inputs or {}).items():
        env[f"INPUT_{env_name(artifact).lstrip('_')}"] = path
    env.update(config_env)
    return result
