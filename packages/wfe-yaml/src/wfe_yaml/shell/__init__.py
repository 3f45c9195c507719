"""Shell steps (``type: shell``): ``<shell> -c <run>`` in its own process group, workflow data as environment
variables, ``##wfe[output name=value]`` lines and ``$WFE_OUTPUT`` as outputs, capped live-streamed output."""

from wfe_yaml.shell.config import ShellConfig
from wfe_yaml.shell.errors import ShellCommandError, ShellTimeoutError
from wfe_yaml.shell.step import ShellStep, ShellStepType

__all__ = ["ShellCommandError", "ShellConfig", "ShellStep", "ShellStepType", "ShellTimeoutError"]
