"""Text a step prints cannot change how a program in a later step behaves: printed ``##wfe[output]`` lines may
only add keys of a safe form, names programs interpret are never exported whatever their source, the host's
own variables are never replaced, ``stop-commands`` switches directives off, and ``$WFE_OUTPUT`` stays the
trusted channel. Legitimate outputs keep reaching later steps."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe_yaml import load_workflow_from_str
from wfe_yaml.shell import ShellConfig, ShellStep
from wfe_yaml.shell.directives import MAX_NOTES, MAX_PRINTED_OUTPUTS
from wfe_yaml.shell.errors import ShellEnvironmentError, ShellOutputError
from wfe_yaml.shell.step import MAX_OUTPUT_FILE_BYTES

from .step_context import RecordingSink, step_context


def shell_step(name: str = "step", **config: Any) -> ShellStep:
    return ShellStep(ShellConfig.model_validate(config), step_name=name, workflow_id="wf")


async def run(step: ShellStep, data: dict[str, Any], sink: RecordingSink | None = None) -> dict[str, Any]:
    await step.run(step_context(data, step_name=step.step_name, sink=sink))
    return step.outputs


async def print_then_run(
    printed: str, command: str, data: dict[str, Any] | None = None, **config: Any
) -> str:
    """A step that shows ``printed`` (as ``cat untrusted.txt`` would), its outputs merged into the data as
    the compiler merges them, then a step running ``command``: that step's stdout."""
    data = dict(data or {})
    first = shell_step("show", run='printf "%s\\n" "$TEXT"', env={"TEXT": printed})
    data.update(await run(first, data))
    second = shell_step("next", run=command, **config)
    return (await run(second, data))["next.stdout"]


# Each name a program interprets, with a hostile value; a later step must see the host's value (or none).
HOSTILE_VARIABLES = {
    "GIT_SSH_COMMAND": "touch pwned-ssh",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "core.fsmonitor",
    "GIT_CONFIG_VALUE_0": "touch pwned-git",
    "LD_PRELOAD": "/tmp/evil.so",
    "PYTHONHOME": "/nonexistent",
    "GCONV_PATH": "/tmp/evil-gconv",
    "BASH_ENV": "/tmp/evil.sh",
    "ENV": "/tmp/evil.sh",
    "PATH": "/nonexistent",
    "WFE_DATA_FILE": "/etc/passwd",
}


@pytest.mark.parametrize("spelling", ["upper", "lower"])
@pytest.mark.parametrize("variable", sorted(HOSTILE_VARIABLES))
async def test_a_printed_line_never_sets_a_variable_programs_interpret(variable: str, spelling: str) -> None:
    name = variable if spelling == "upper" else variable.lower()
    printed = f"##wfe[output {name}={HOSTILE_VARIABLES[variable]}]"
    seen = await print_then_run(printed, f'printf "%s" "${{{variable}-unset}}"')
    expected = os.environ.get(variable, "unset")
    if variable == "WFE_DATA_FILE":
        assert seen.endswith("/data.json")
    else:
        assert seen == expected


@pytest.mark.parametrize("variable", sorted(HOSTILE_VARIABLES))
async def test_data_never_sets_a_variable_programs_interpret(variable: str) -> None:
    step = shell_step(run=f'printf "%s" "${{{variable}-unset}}"')
    seen = (await run(step, {variable.lower(): HOSTILE_VARIABLES[variable]}))["step.stdout"]
    if variable == "WFE_DATA_FILE":
        assert seen.endswith("/data.json")
    else:
        assert seen == os.environ.get(variable, "unset")


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    return tmp_path / "repo"


async def test_injected_git_config_does_not_run_in_a_later_git_command(
    tmp_path: Path, git_repo: Path
) -> None:
    """The attack: ``cat untrusted.txt`` prints a core.fsmonitor config, the next step runs ``git status``."""
    marker = tmp_path / "pwned"
    untrusted = "\n".join(
        [
            "##wfe[output GIT_CONFIG_COUNT=1]",
            "##wfe[output GIT_CONFIG_KEY_0=core.fsmonitor]",
            f"##wfe[output GIT_CONFIG_VALUE_0=touch {marker}; false]",
            "##wfe[output git_ssh_command=touch " + str(marker) + "]",
        ]
    )
    seen = await print_then_run(untrusted, "git status --short && echo clean", working_dir=str(git_repo))
    assert seen == "clean\n"
    assert not marker.exists()


async def test_pythonhome_from_output_does_not_break_python_later() -> None:
    python = shutil.which("python3")
    assert python is not None
    seen = await print_then_run("##wfe[output PYTHONHOME=/nonexistent]", f"{python} -c 'print(6 * 7)'")
    assert seen == "42\n"


async def test_bash_env_from_output_does_not_run_a_file_in_later_bash_steps(tmp_path: Path) -> None:
    evil = tmp_path / "evil.sh"
    evil.write_text(f"touch {tmp_path / 'pwned'}\n")
    printed = f"##wfe[output bash_env={evil}]\n##wfe[output env={evil}]"
    seen = await print_then_run(printed, "echo ran", shell="bash")
    assert seen == "ran\n"
    assert not (tmp_path / "pwned").exists()


async def test_a_forged_output_of_an_existing_key_is_refused_and_reported() -> None:
    sink = RecordingSink()
    data: dict[str, Any] = {"approved": False}
    first = shell_step(
        "show",
        run='printf "%s\\n" "##wfe[output approved=true]" "##wfe[output APPROVED=true]" "##wfe[output new=1]"',
    )
    outputs = await run(first, data, sink)
    assert "approved" not in outputs and "APPROVED" not in outputs
    assert outputs["new"] == 1
    notes = [line for line in sink.lines("log") if "already holds 'approved'" in line]
    assert len(notes) == 2 and "$WFE_OUTPUT" in notes[0]
    data.update(outputs)
    second = shell_step("next", run='printf "%s" "$APPROVED"')
    assert (await run(second, data))["next.stdout"] == "false"


async def test_the_output_file_may_replace_an_existing_key() -> None:
    step = shell_step(run='echo "approved=true" >> "$WFE_OUTPUT"')
    assert (await run(step, {"approved": False}))["approved"] is True


async def test_legitimate_outputs_reach_later_steps_as_variables_and_data() -> None:
    data: dict[str, Any] = {}
    first = shell_step(
        "build",
        run='echo "##wfe[output revision=abc]"; echo "##wfe[output build.status=ok]"; '
        'echo "artifact=dist/x.whl" >> "$WFE_OUTPUT"',
    )
    data.update(await run(first, data))
    assert data["revision"] == "abc" and data["build.status"] == "ok" and data["artifact"] == "dist/x.whl"
    second = shell_step("next", run='printf "%s %s %s" "$REVISION" "$BUILD_STATUS" "$ARTIFACT"')
    assert (await run(second, data))["next.stdout"] == "abc ok dist/x.whl"


async def test_stop_commands_switch_directives_off_around_untrusted_text() -> None:
    script = (
        'echo "##wfe[output before=1]"\n'
        "token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')\n"
        'echo "##wfe[stop-commands $token]"\n'
        'printf "%s\\n" "$TEXT"\n'
        'echo "##wfe[$token]"\n'
        'echo "##wfe[output after=2]"\n'
    )
    untrusted = "##wfe[output injected=yes]\n##wfe[output hostile=yes]"
    outputs = await run(shell_step(run=script, env={"TEXT": untrusted}), {})
    assert outputs["before"] == 1 and outputs["after"] == 2
    assert "injected" not in outputs and "hostile" not in outputs
    assert "##wfe[output injected=yes]" in outputs["step.stdout"]


async def test_stop_commands_need_a_token() -> None:
    sink = RecordingSink()
    outputs = await run(shell_step(run='echo "##wfe[stop-commands ]"; echo "##wfe[output x=1]"'), {}, sink)
    assert outputs["x"] == 1
    assert any("without a token" in line for line in sink.lines("log"))


async def test_stdout_directives_can_be_switched_off_for_a_step() -> None:
    step = shell_step(run='echo "##wfe[output x=1]"; echo "y=2" >> "$WFE_OUTPUT"', stdout_directives=False)
    outputs = await run(step, {})
    assert "x" not in outputs and outputs["y"] == 2


@pytest.mark.parametrize("name", ["a b", "x;y", "-lead", ".dot", "9x", "é", "n" * 129])
async def test_printed_names_of_an_unsafe_form_are_refused(name: str) -> None:
    sink = RecordingSink()
    outputs = await run(
        shell_step(run='printf "%s\\n" "$LINE"', env={"LINE": f"##wfe[output {name}=v]"}), {}, sink
    )
    assert name not in outputs
    assert any("is not an output name" in line for line in sink.lines("log"))


async def test_two_printed_names_for_one_variable_keep_the_first() -> None:
    sink = RecordingSink()
    outputs = await run(shell_step(run='echo "##wfe[output a-b=1]"; echo "##wfe[output a.b=2]"'), {}, sink)
    assert outputs["a-b"] == 1 and "a.b" not in outputs
    assert any("same environment variable $A_B" in line for line in sink.lines("log"))


async def test_data_never_replaces_a_variable_the_host_environment_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WFE_TEST_HOST_SETTING", "host")
    monkeypatch.setenv("CORP_TOKEN_URL", "https://host.example")
    sink = RecordingSink()
    step = shell_step(run='printf "%s" "$CORP_TOKEN_URL"')
    outputs = await run(step, {"corp_token_url": "https://evil.example"}, sink)
    assert outputs["step.stdout"] == "https://host.example"
    assert any("the host environment sets $CORP_TOKEN_URL" in line for line in sink.lines("log"))


async def test_data_keys_becoming_one_variable_fail_the_step_naming_both() -> None:
    with pytest.raises(
        ShellEnvironmentError, match=r"'a-b' and 'a\.b' both become the environment variable \$A_B"
    ):
        await run(shell_step(run="true"), {"a-b": 1, "a.b": 2})


WORKFLOW = """
workflow:
  id: printed
  version: 1
  steps:
    - name: show
      type: shell
      config:
        run: cat "$UNTRUSTED_FILE"
    - name: check
      type: shell
      config:
        run: |
          echo "approved=$APPROVED revision=$REVISION"
          echo "##wfe[output checked=$APPROVED]"
"""


async def test_a_workflow_keeps_its_data_against_a_file_it_shows(tmp_path: Path) -> None:
    untrusted = tmp_path / "untrusted.txt"
    untrusted.write_text("##wfe[output approved=true]\n##wfe[output revision=r1]\n##wfe[output PATH=/x]\n")
    (compiled,) = load_workflow_from_str(WORKFLOW, source="printed.yaml")
    host = WorkflowHostBuilder().build()
    host.register_workflow(compiled)
    async with host:
        wid = await host.start_workflow("printed", 1, {"approved": "no", "untrusted_file": str(untrusted)})
        done = await host.wait_for_workflow(wid, timeout=timedelta(seconds=30))
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data["approved"] == "no" and done.data["checked"] == "no"
    assert done.data["revision"] == "r1" and done.data["PATH"] == "/x"
    assert done.data["check.stdout"].startswith("approved=no revision=r1\n")


async def test_a_flood_of_printed_outputs_is_bounded_and_its_notes_too() -> None:
    sink = RecordingSink()
    script = 'i=0; while [ $i -lt 3000 ]; do echo "##wfe[output k$i=v]"; i=$((i+1)); done'
    outputs = await run(shell_step(run=script), {}, sink)
    printed = [key for key in outputs if key.startswith("k")]
    assert len(printed) == MAX_PRINTED_OUTPUTS
    notes = sink.lines("log")
    assert len(notes) == MAX_NOTES + 1
    assert "at most 1000 outputs" in notes[0] and "the rest are not reported" in notes[-1]


async def test_printed_outputs_stay_within_the_output_limit() -> None:
    script = (
        'printf "##wfe[output a=%s]\\n" "$(head -c 600 /dev/zero | tr "\\0" x)"; echo "##wfe[output b=1]"'
    )
    outputs = await run(shell_step(run=script, output_limit=620), {})
    assert len(outputs["a"]) == 600 and "b" not in outputs


async def test_an_output_file_larger_than_wfe_reads_fails_the_step_naming_the_fix() -> None:
    size = MAX_OUTPUT_FILE_BYTES + 1
    step = shell_step(run=f'head -c {size} /dev/zero | tr "\\0" x > "$WFE_OUTPUT"')
    with pytest.raises(ShellOutputError, match="more than 64 MiB: write large results to a file"):
        await run(step, {})
