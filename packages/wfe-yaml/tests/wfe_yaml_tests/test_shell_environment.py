"""What environment a shell command gets: the host's (all, none or listed names, per step or per host), and
``config.env`` names checked when the file loads."""

from __future__ import annotations

import os
from typing import Any

import pytest

from wfe_yaml import load_workflow_from_str
from wfe_yaml.errors import YamlValidationError
from wfe_yaml.shell import ShellConfig, ShellStep, ShellStepType

from .step_context import step_context


def workflow_with_env(env: str) -> str:
    return f"""
workflow:
  id: env
  version: 1
  steps:
    - name: s
      type: shell
      config:
        run: echo
        env: {env}
"""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ('{"BAD NAME": x}', "'BAD NAME' is not an environment variable name"),
        ('{"A=B": x}', "'A=B' is not an environment variable name"),
        ('{"9LIVES": x}', "not starting with a digit"),
        ('{"": x}', "'' is not an environment variable name"),
        ('{"NUL": "a\\0b"}', "holds a NUL character"),
    ],
)
def test_config_env_names_are_checked_when_the_file_loads(env: str, message: str) -> None:
    with pytest.raises(YamlValidationError, match=message) as caught:
        load_workflow_from_str(workflow_with_env(env), source="env.yaml")
    assert "env.yaml:" in str(caught.value)


async def output_of(step: ShellStep, data: dict[str, Any] | None = None) -> str:
    await step.run(step_context(data or {}, step_name="s"))
    return str(step.outputs["s.stdout"])


def variables(text: str) -> set[str]:
    return {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}


SHELL_OWN = {"PWD", "SHLVL", "_", "OLDPWD", "PS1", "PS2", "PS4", "IFS", "OPTIND", "PPID"}


async def test_host_env_none_passes_nothing_of_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFE_TEST_SECRET", "s3cret")
    step = ShellStep(ShellConfig(run="/usr/bin/env", host_env="none"), step_name="s")
    seen = variables(await output_of(step, {"greeting": "hi"}))
    assert seen - SHELL_OWN == {
        "GREETING",
        "WFE_DATA",
        "WFE_DATA_FILE",
        "WFE_OUTPUT",
        "WFE_PROCESS_TRACKING_ID",
    }


async def test_host_env_lists_the_names_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFE_TEST_SECRET", "s3cret")
    step = ShellStep(ShellConfig(run="/usr/bin/env", host_env=["PATH", "ABSENT_NAME"]), step_name="s")
    seen = variables(await output_of(step))
    assert seen - SHELL_OWN == {"PATH", "WFE_DATA", "WFE_DATA_FILE", "WFE_OUTPUT", "WFE_PROCESS_TRACKING_ID"}


async def test_the_host_default_applies_unless_the_step_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WFE_TEST_SECRET", "s3cret")
    monkeypatch.setenv("WFE_SHELL_HOST_ENV", "PATH, WFE_TEST_SECRET")
    provider = ShellStepType()
    assert provider.host_env == ["PATH", "WFE_TEST_SECRET"]
    default = provider.create(
        {"run": 'printf "%s" "${WFE_TEST_SECRET-}${HOME-}"'}, step_name="s", workflow_id="w"
    )
    assert await output_of(default) == "s3cret"
    closed = provider.create(
        {"run": 'printf "%s" "${WFE_TEST_SECRET-unset}"', "host_env": "none"}, step_name="s", workflow_id="w"
    )
    assert await output_of(closed) == "unset"
    everything = ShellStepType(host_env="all").create(
        {"run": 'printf "%s" "$HOME"'}, step_name="s", workflow_id="w"
    )
    assert await output_of(everything) == os.environ.get("HOME", "")


def test_the_host_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFE_SHELL_HOST_ENV", "PATH,BAD NAME")
    with pytest.raises(ValueError, match="'BAD NAME' is not a variable name; set it to all, none"):
        ShellStepType()
    monkeypatch.setenv("WFE_SHELL_HOST_ENV", "none")
    assert ShellStepType().host_env == "none"


async def test_the_whole_host_environment_is_inherited_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFE_SHELL_HOST_ENV", raising=False)
    monkeypatch.setenv("WFE_TEST_SECRET", "s3cret")
    step = ShellStepType().create({"run": 'printf "%s" "$WFE_TEST_SECRET"'}, step_name="s", workflow_id="w")
    assert await output_of(step) == "s3cret"
