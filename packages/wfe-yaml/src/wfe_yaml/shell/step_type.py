"""The ``shell`` step type: what validating a shell step needs (its config model and checks), apart from the step
body that runs commands (:mod:`wfe_yaml.shell.step`, with asyncio and process handling), imported by ``create``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wfe_yaml.shell.config import ShellConfig
from wfe_yaml.shell.host_env import HostEnv, host_env_setting

if TYPE_CHECKING:
    from wfe_yaml.shell.step import ShellStep


class ShellStepType:
    """The ``shell`` step type (entry point ``wfe.steps: shell``)."""

    name = "shell"
    config_model = ShellConfig
    requires_config = True

    def __init__(self, *, host_env: HostEnv | None = None) -> None:
        """``host_env``: what of the host's environment commands inherit unless a step's ``host_env`` says
        otherwise: ``"all"``, ``"none"`` or a list of names. Default: the ``WFE_SHELL_HOST_ENV`` variable
        (``all``, ``none`` or comma-separated names), else ``"all"``."""
        self.host_env: HostEnv = host_env if host_env is not None else host_env_setting(os.environ)

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        given = [key for key in ("run", "file", "script") if config.get(key) is not None]
        if not given:
            return [f"Shell step '{step_name}' must have 'config.run' or 'config.file'"]
        if len(given) > 1:
            return [
                f"Shell step '{step_name}' must have only one of 'config.run', 'config.file' and "
                f"'config.script' (found {', '.join(given)})"
            ]
        return []

    def artifacts(
        self, config: Mapping[str, Any], *, step_name: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """It consumes the artifacts of ``inputs``."""
        inputs = config.get("inputs")
        return (), tuple(str(name) for name in inputs) if isinstance(inputs, Mapping) else ()

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> ShellStep:
        from wfe_yaml.shell.step import ShellStep

        return ShellStep(
            ShellConfig.model_validate(dict(config)),
            step_name=step_name,
            workflow_id=workflow_id,
            host_env=self.host_env,
        )
