"""Shell steps: data reaches commands only as environment variables, outputs, caps, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from wfe_yaml.shell import ShellCommandError, ShellConfig, ShellStep, ShellStepType, ShellTimeoutError
from wfe_yaml.shell.environment import env_name
from wfe_yaml.shell.errors import ShellCancelledError
from wfe_yaml.shell.outputs import parse_directive, parse_output_file, typed_value
from wfe_yaml.shell.process import spawn

from .step_context import RecordingSink, step_context


def shell_step(name: str = "step", **config: Any) -> ShellStep:
    return ShellStep(ShellConfig.model_validate(config), step_name=name, workflow_id="wf")


async def run(
    step: ShellStep, data: dict[str, Any] | None = None, sink: RecordingSink | None = None
) -> dict[str, Any]:
    await step.run(step_context(data, step_name=step.step_name, sink=sink))
    return step.outputs


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie left for an init that does not reap counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state


async def wait_gone(pid: int, within: float = 5.0) -> bool:
    for _ in range(int(within / 0.05)):
        if process_gone(pid):
            return True
        await asyncio.sleep(0.05)
    return process_gone(pid)


def read_pid(pidfile: Path) -> int | None:
    text = pidfile.read_text() if pidfile.exists() else ""
    return int(text) if text.strip() else None


async def wait_for_pid(pidfile: Path) -> int:
    for _ in range(200):
        pid = read_pid(pidfile)
        if pid is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pidfile} was never written")


def real_path(path: Path) -> str:
    return str(path.resolve())


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_simple_echo_captures_stdout_and_stderr() -> None:
    outputs = await run(shell_step("echo-step", run="echo hello; echo oops >&2"))
    assert outputs["echo-step.stdout"] == "hello\n"
    assert outputs["echo-step.stderr"] == "oops\n"


async def test_output_directives_are_typed_and_later_ones_win() -> None:
    script = (
        "echo '##wfe[output count=42]'; echo '##wfe[output ratio=1.5]'; echo '##wfe[output ok=true]';"
        "echo '##wfe[output nothing=null]'; echo '##wfe[output text=a = b]'; echo '##wfe[output count=43]';"
        "echo ' ##wfe[output ignored=1]'"
    )
    outputs = await run(shell_step(run=script))
    assert outputs["count"] == 43
    assert outputs["ratio"] == 1.5
    assert outputs["ok"] is True
    assert outputs["nothing"] is None
    assert outputs["text"] == "a = b"
    assert "ignored" not in outputs


def test_directive_parsing_rules() -> None:
    assert parse_directive("##wfe[output name=value=more]") == ("name", "value=more")
    assert parse_directive("##wfe[output  spaced  = x ]") == ("spaced", " x ")
    assert parse_directive("##wfe[output novalue]") is None
    assert parse_directive("##wfe[output x=1") is None
    assert typed_value("-7") == -7 and typed_value("1e3") == 1000.0 and typed_value("nan") == "nan"
    assert typed_value("False") == "False"


async def test_wfe_output_file_sets_outputs() -> None:
    script = (
        'echo "version=1.2.3" >> "$WFE_OUTPUT"; echo "count=5" >> "$WFE_OUTPUT";'
        'printf "notes<<EOF\\nline one\\nline two\\nEOF\\n" >> "$WFE_OUTPUT"'
    )
    outputs = await run(shell_step(run=script))
    assert outputs["version"] == "1.2.3"
    assert outputs["count"] == 5
    assert outputs["notes"] == "line one\nline two"


def test_output_file_parsing_ignores_junk() -> None:
    assert parse_output_file("=x\nnoequals\na=1\n") == {"a": 1}


HOSTILE = {
    "subst": "$(touch pwned-subst)",
    "semicolon": "x; touch pwned-semicolon",
    "backticks": "`touch pwned-backticks`",
    "newline": "x\ntouch pwned-newline",
    "quotes": "'\"; touch pwned-quotes; echo \"'",
}


@pytest.mark.parametrize("key", sorted(HOSTILE))
async def test_hostile_data_reaches_the_command_only_as_data(key: str, tmp_path: Path) -> None:
    value = HOSTILE[key]
    outputs = await run(
        shell_step(run=f'printf "%s" "${key.upper()}"', working_dir=str(tmp_path)), {key: value}
    )
    assert outputs["step.stdout"] == value
    assert files_in(tmp_path) == []


async def test_hostile_keys_become_harmless_names(tmp_path: Path) -> None:
    data = {"a;touch pwned": "v", "$(touch pwned2)": "w", "echo-step.stdout": "out"}
    outputs = await run(shell_step(run='echo "$ECHO_STEP_STDOUT"; env', working_dir=str(tmp_path)), data)
    assert outputs["step.stdout"].startswith("out\n")
    assert "A_TOUCH_PWNED=v" in outputs["step.stdout"]
    assert files_in(tmp_path) == []


def test_env_names_are_sanitised() -> None:
    assert env_name("echo-step.stdout") == "ECHO_STEP_STDOUT"
    assert env_name("9lives") == "_9LIVES"
    assert env_name("") == "_"
    assert env_name("ümlaut key") == "_MLAUT_KEY"


async def test_protected_names_are_never_set_from_data(tmp_path: Path) -> None:
    bash_env = tmp_path / "evil.sh"
    bash_env.write_text("touch pwned\n")
    data = {
        "path": "/nonexistent",
        "home": "/evil",
        "ld_preload": "/evil.so",
        "bash_env": str(bash_env),
        "wfe_output": "/etc/passwd",
        "ld_custom": "x",
    }
    script = 'echo "$PATH|$HOME|${LD_PRELOAD:-}|${LD_CUSTOM:-}"; test "$WFE_OUTPUT" != /etc/passwd && echo ok'
    shell = "bash" if shutil.which("bash") else "sh"
    outputs = await run(shell_step(run=script, shell=shell, working_dir=str(tmp_path)), data)
    path, home, preload, custom = outputs["step.stdout"].splitlines()[0].split("|")
    assert path == os.environ["PATH"] and home == os.environ.get("HOME", "")
    assert preload == os.environ.get("LD_PRELOAD", "") and custom == ""
    assert outputs["step.stdout"].splitlines()[1] == "ok"
    assert files_in(tmp_path) == ["evil.sh"]


async def test_safe_data_values_are_injected_as_text_or_json() -> None:
    data = {"name": "World", "count": 42, "flag": True, "nothing": None, "obj": {"a": 1}}
    outputs = await run(shell_step(run='echo "$NAME $COUNT $FLAG $NOTHING $OBJ"; echo "$WFE_DATA"'), data)
    first, second = outputs["step.stdout"].splitlines()
    assert first == 'World 42 true null {"a": 1}'
    assert '"name": "World"' in second


async def test_config_env_applies_last() -> None:
    outputs = await run(
        shell_step(run='echo "$GREETING $PATH"', env={"GREETING": "hi", "PATH": "/bin:/usr/bin"}),
        {"greeting": "from data"},
    )
    assert outputs["step.stdout"] == "hi /bin:/usr/bin\n"


async def test_nonzero_exit_fails_with_code_and_tails() -> None:
    with pytest.raises(ShellCommandError) as caught:
        await run(shell_step(run="echo partial; echo broken >&2; exit 3"))
    assert caught.value.exit_code == 3
    assert "exited with code 3" in str(caught.value)
    assert "partial" in caught.value.stdout_tail and "broken" in caught.value.stderr_tail


async def test_spawn_failure_is_a_step_error() -> None:
    with pytest.raises(ShellCommandError, match="Failed to spawn"):
        await run(shell_step(run="true", shell="/nonexistent/shell"))


async def test_working_dir_is_respected(tmp_path: Path) -> None:
    outputs = await run(shell_step(run="pwd", working_dir=str(tmp_path)))
    assert outputs["step.stdout"].strip() == real_path(tmp_path)


async def test_file_option_runs_a_script_file(tmp_path: Path) -> None:
    (tmp_path / "job.sh").write_text('echo "from file $NAME"\n')
    outputs = await run(shell_step(file="job.sh", working_dir=str(tmp_path)), {"name": "x"})
    assert outputs["step.stdout"] == "from file x\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
async def test_shell_option_selects_the_shell() -> None:
    outputs = await run(shell_step(run='[[ "a" == "a" ]] && echo "$BASH_VERSION" | cut -c1', shell="bash"))
    assert outputs["step.stdout"].strip().isdigit()


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(ShellTimeoutError, match="Shell command timed out after 500ms"):
        await run(shell_step(run=script, timeout="500ms"))
    assert time.monotonic() - started < 10
    grandchild = await wait_for_pid(pidfile)
    assert await wait_gone(grandchild)


async def test_timeout_escalates_to_sigkill_for_processes_ignoring_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"trap '' TERM; sh -c 'trap \"\" TERM; echo $$ > {pidfile}; exec sleep 300' & wait"
    with pytest.raises(ShellTimeoutError):
        await run(shell_step(run=script, timeout="300ms", kill_grace="200ms"))
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_background_children_holding_the_pipes_do_not_hang_the_step(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    outputs = await run(shell_step(run=f"sleep 300 & echo $! > {pidfile}; echo done"))
    assert outputs["step.stdout"] == "done\n"
    assert time.monotonic() - started < 15
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_cancellation_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    step = shell_step(run=f"sleep 300 & echo $! > {pidfile}; wait")
    ctx = step_context({})
    task = asyncio.create_task(step.run(ctx))
    await wait_for_pid(pidfile)
    ctx.cancellation.cancel()
    with pytest.raises(ShellCancelledError):
        await asyncio.wait_for(task, 10)
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_task_cancellation_kills_the_group_and_propagates(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    step = shell_step(run=f"sleep 300 & echo $! > {pidfile}; wait")
    task = asyncio.create_task(step.run(step_context({})))
    await wait_for_pid(pidfile)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_a_command_cancelled_before_it_is_watched_is_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancellation can land between the command's start and the moment its pipes are watched (on a busy
    machine the command may run first): the command and what it started are ended all the same."""
    pidfile = tmp_path / "pid"

    async def cancelled_while_connecting(*args: Any, **kwargs: Any) -> Any:
        await wait_for_pid(pidfile)  # the command runs, and has started a child of its own
        raise asyncio.CancelledError

    monkeypatch.setattr(asyncio.get_running_loop(), "connect_read_pipe", cancelled_while_connecting)
    with pytest.raises(asyncio.CancelledError):
        await spawn(["bash", "-c", f"sleep 300 & echo $! > {pidfile}; wait"], env=dict(os.environ), cwd=None)
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_lines_reach_the_log_sink_live() -> None:
    sink = RecordingSink()
    await run(shell_step(run="echo first; echo err >&2; sleep 1; echo second"), sink=sink)
    finished = time.monotonic()
    assert sink.lines("stdout") == ["first", "second"]
    assert sink.lines("stderr") == ["err"]
    first_arrival = next(t for t, c in sink.chunks if c.text == "first")
    assert finished - first_arrival > 0.5
    assert all(c.step_name == "step" and c.workflow_id == "wf-1" for _, c in sink.chunks)


async def test_output_is_capped_and_the_cap_noted() -> None:
    outputs = await run(shell_step(run="head -c 5000 /dev/zero | tr '\\0' a", output_limit=1000))
    assert outputs["step.stdout"].startswith("a" * 1000)
    assert "[output truncated: 5000 bytes written, the first 1000 kept]" in outputs["step.stdout"]
    assert outputs["step.stdout_truncated"] is True


async def test_fifty_megabytes_of_stdout_stay_bounded_in_memory() -> None:
    line = "x" * 1023
    script = f"yes {line} | head -c 52428800; echo '##wfe[output tail=ok]'"
    tracemalloc.start()
    try:
        outputs = await run(shell_step(run=script))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outputs["tail"] == "ok"
    assert len(outputs["step.stdout"]) < 1024 * 1024 + 200
    assert peak < 16 * 1024 * 1024, f"peak Python allocation {peak} bytes"


def test_step_type_validation_messages() -> None:
    step_type = ShellStepType()
    assert step_type.validate({}, step_name="s") == ["Shell step 's' must have 'config.run' or 'config.file'"]
    assert "only one of" in step_type.validate({"run": "a", "file": "b"}, step_name="s")[0]
    assert step_type.validate({"script": "echo"}, step_name="s") == []
    body = step_type.create({"run": "echo", "timeout": "30s"}, step_name="s", workflow_id="w")
    assert isinstance(body, ShellStep) and body.config.timeout_ms == 30_000


async def test_values_too_large_for_the_environment_stay_in_the_data_file() -> None:
    sink = RecordingSink()
    data = {"big": "x" * 200_000, "small": "ok", "previous.stdout": "y" * 1_000_000}
    script = 'echo "${BIG:-absent} $SMALL ${WFE_DATA:-nodata}"; wc -c < "$WFE_DATA_FILE"'
    outputs = await run(shell_step(run=script), data, sink=sink)
    first, size = outputs["step.stdout"].splitlines()
    assert first == "absent ok nodata"
    assert int(size) > 1_200_000
    notes = sink.lines("log")
    assert any("'big' is too large" in line for line in notes)
    assert any("'previous.stdout' is too large" in line for line in notes)
