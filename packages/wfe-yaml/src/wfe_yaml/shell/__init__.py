"""Shell steps (``type: shell``): ``<shell> -c <run>`` in its own process group, workflow data as environment
variables, ``##wfe[output name=value]`` lines and ``$WFE_OUTPUT`` as outputs, capped live-streamed output.

The names are imported on first use (PEP 562): the step type (``ShellStepType``, what the loader needs to validate
a step) does not load the step body (``ShellStep``, asyncio and process handling) until a step is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy_names import lazy_names

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


__getattr__, __dir__ = lazy_names("wfe_yaml.shell", _WHERE, globals(), prefix="wfe_yaml.shell.")
