"""What of the host's environment a shell command inherits: the ``WFE_SHELL_HOST_ENV`` setting and its
selection. Apart from :mod:`wfe_yaml.shell.environment` (how workflow data reaches a command), as creating the
step type (``wfe validate``) reads the setting and needs nothing else."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from wfe_core.errors import ConfigurationError

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

HostEnv = Literal["all", "none"] | list[str]


HOST_ENV_VARIABLE = "WFE_SHELL_HOST_ENV"


def host_env_setting(environ: Mapping[str, str]) -> HostEnv:
    """The host-wide setting from ``WFE_SHELL_HOST_ENV``: ``all`` (also when unset), ``none``, or
    comma-separated names."""
    text = environ.get(HOST_ENV_VARIABLE, "").strip()
    if text in ("", "all"):
        return "all"
    if text == "none":
        return "none"
    names = [name.strip() for name in text.split(",") if name.strip()]
    bad = [name for name in names if not _VARIABLE_NAME.fullmatch(name)]
    if bad:
        raise ConfigurationError(
            f"{HOST_ENV_VARIABLE}={text!r}: {bad[0]!r} is not a variable name; set it to all, none, or "
            "comma-separated names such as PATH,HOME,LANG"
        )
    return names


def host_environment(selection: HostEnv, environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the host's environment a command inherits: all of it, none of it, or the listed names."""
    if selection == "all":
        return dict(environ)
    if selection == "none":
        return {}
    return {name: environ[name] for name in selection if name in environ}
