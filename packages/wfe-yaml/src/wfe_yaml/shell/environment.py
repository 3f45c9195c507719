"""How workflow data reaches a shell command: environment variables, never text in the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# Names data may never set: they change what runs (PATH, loader and shell start-up variables) or who it
# runs as. ``config.env`` (written by the workflow author, not taken from data) may still set them.
PROTECTED_NAMES = frozenset(
    {
        "PATH",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "DYLD_LIBRARY_PATH",
        "DYLD_INSERT_LIBRARIES",
        "HOME",
        "SHELL",
        "USER",
        "LOGNAME",
        "TERM",
        "BASH_ENV",
        "ENV",
        "IFS",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "CDPATH",
        "GLOBIGNORE",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "NODE_OPTIONS",
        "PERL5OPT",
        "RUBYOPT",
        "WFE_DATA",
        "WFE_OUTPUT",
    }
)
_PROTECTED_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_")
_INVALID = re.compile(r"[^A-Z0-9_]")


def env_name(key: str) -> str:
    """A data key as an environment variable name: upper-cased, other characters turned into ``_``, and a
    leading digit prefixed with ``_`` (``echo-step.stdout`` becomes ``ECHO_STEP_STDOUT``)."""
    name = _INVALID.sub("_", key.upper())
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def is_protected(name: str) -> bool:
    """Whether data may not set the variable ``name``."""
    return name in PROTECTED_NAMES or name.startswith(_PROTECTED_PREFIXES)


def env_value(value: Any) -> str:
    """Strings go in raw; every other value as its JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def build_environment(
    base: Mapping[str, str], data: Mapping[str, Any], config_env: Mapping[str, str], *, output_file: str
) -> dict[str, str]:
    """The command's environment: ``base``, then each top-level data key (protected names skipped, NUL bytes
    dropped since no environment can hold them), ``WFE_DATA`` and ``WFE_OUTPUT``, then ``config_env``."""
    env = dict(base)
    for key, value in data.items():
        name = env_name(str(key))
        if is_protected(name):
            continue
        env[name] = env_value(value).replace("\x00", "")
    env["WFE_DATA"] = json.dumps(dict(data), default=str).replace("\x00", "")
    env["WFE_OUTPUT"] = output_file
    env.update(config_env)
    return env
