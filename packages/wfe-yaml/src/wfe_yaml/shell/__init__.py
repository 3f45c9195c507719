"""Shell steps (``type: shell``): ``<shell> -c <run>`` in its own process group, workflow data as environment
variables, ``##wfe[output name=value]`` lines and ``$WFE_OUTPUT`` as outputs, capped live-streamed output.

The names are imported on first use (PEP 562): the step type (``ShellStepType``, what the loader needs to validate
a step) does not load the step body (``ShellStep``, asyncio and process handling) until a step is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfe_yaml.shell.config import ShellConfig
    from wfe_yaml.shell.errors import ShellCommandError, ShellTimeoutError
    from wfe_yaml.shell.step import ShellStep
    from wfe_yaml.shell.step_type import ShellStepType

_WHERE = {
    "ShellCommandError": "errors",
    "ShellConfig": "config",
    "ShellStep": "step",
    "ShellStepType": "step_type",
    "ShellTimeoutError": "errors",
}

__all__ = ["ShellCommandError", "ShellConfig", "ShellStep", "ShellStepType", "ShellTimeoutError"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'wfe_yaml.shell' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"wfe_yaml.shell.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
