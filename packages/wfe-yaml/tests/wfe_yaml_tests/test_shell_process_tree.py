"""A timeout or a cancellation ends every process a shell command started, those that left its process group
included (``setsid``, double forks, daemons found by the tracking marker in their environment), and the step
fails without waiting on pipes they held."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wfe_yaml.shell import ShellConfig, ShellStep, ShellTimeoutError
from wfe_yaml.shell.errors import ShellCancelledError
from wfe_yaml.shell.process_tree import TRACKING_VARIABLE, ProcessTree, new_tracking_id
from wfe_yaml.shell.step import PIPE_CLOSE_GRACE

from .step_context import RecordingSink, step_context
from .test_shell import wait_for_pid, wait_gone

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process trees are tracked on Linux"
)

LEFT_THE_GROUP = {
    "setsid, parent alive": "setsid sleep 300 & echo $! > {pid}; sleep 300",
    "setsid, parent gone": "(setsid sleep 300 & echo $! > {pid}) ; sleep 300",
    "double fork, pipes closed": (
        "(setsid sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {pid}' &) ; sleep 300"
    ),
}


def step(run: str, **config: object) -> ShellStep:
    return ShellStep(ShellConfig.model_validate({"run": run, **config}), step_name="s")


@pytest.mark.parametrize("case", sorted(LEFT_THE_GROUP))
async def test_a_timeout_kills_processes_that_left_the_group(case: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ShellTimeoutError, match="timed out after 1000ms"):
        await step(LEFT_THE_GROUP[case].format(pid=pidfile), timeout="1s").run(
            step_context({}, step_name="s")
        )
    elapsed = time.monotonic() - started
    # The step fails once its processes are killed, without waiting for pipes they held (measured: ~1.15 s).
    assert elapsed < 1.0 + PIPE_CLOSE_GRACE
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_cancellation_kills_a_setsid_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    ctx = step_context({}, step_name="s")
    task = asyncio.create_task(step(f"setsid sleep 300 & echo $! > {pidfile}; wait").run(ctx))
    grandchild = await wait_for_pid(pidfile)
    ctx.cancellation.cancel()
    with pytest.raises(ShellCancelledError, match="every process it started"):
        await asyncio.wait_for(task, 10)
    assert await wait_gone(grandchild)


async def test_a_setsid_child_holding_the_pipes_after_exit_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    shell = step(f"setsid sleep 300 & echo $! > {pidfile}; echo done")
    await shell.run(step_context({}, step_name="s"))
    assert shell.outputs["s.stdout"] == "done\n"
    assert await wait_gone(await wait_for_pid(pidfile))


async def test_a_detached_daemon_outlives_a_command_that_exits_normally(tmp_path: Path) -> None:
    """Documented: after a normal exit, a process that closed the pipes and left the group is not ours to end."""
    pidfile = tmp_path / "pid"
    shell = step(f"setsid sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {pidfile}'; echo done")
    await shell.run(step_context({}, step_name="s"))
    daemon = await wait_for_pid(pidfile)
    try:
        assert not await wait_gone(daemon, within=0.3)
    finally:
        os.kill(daemon, signal.SIGKILL)


# A classic daemon: the program forks and exits at once, the child starts a session of its own, forks and
# exits, and the grandchild points stdin, stdout and stderr at /dev/null before it runs `sleep 300`. Nothing
# links it to the command any more but the environment it inherited.
DAEMONIZE = """
import os, sys
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
os.close(null)
with open(sys.argv[1] + ".tmp", "w") as file:
    file.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
os.execvp("sleep", ["sleep", "300"])
"""


def daemon_script(pidfile: Path) -> Path:
    """The daemon-starting program, written next to ``pidfile``."""
    script = pidfile.with_name("daemonize.py")
    script.write_text(DAEMONIZE)
    return script


def daemonize(pidfile: Path) -> str:
    """A command line that starts a fully detached daemon and writes its pid to ``pidfile``."""
    return shlex.join([sys.executable, str(daemon_script(pidfile)), str(pidfile)])


def kill_all(pids: list[int]) -> None:
    """SIGKILL what a test left (nothing, when it passes)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def test_a_timeout_kills_a_fully_detached_daemon(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(ShellTimeoutError, match="timed out after 1000ms"):
        await step(
            f"{daemonize(pidfile)}; until [ -s {pidfile} ]; do sleep 0.01; done; sleep 300", timeout="1s"
        ).run(step_context({}, step_name="s"))
    daemon = await wait_for_pid(pidfile)
    try:
        assert await wait_gone(daemon)
    finally:
        kill_all([daemon])


async def test_cancellation_kills_a_fully_detached_daemon(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    ctx = step_context({}, step_name="s")
    task = asyncio.create_task(step(f"{daemonize(pidfile)}; sleep 300").run(ctx))
    daemon = await wait_for_pid(pidfile)
    try:
        ctx.cancellation.cancel()
        with pytest.raises(ShellCancelledError, match="every process it started"):
            await asyncio.wait_for(task, 10)
        assert await wait_gone(daemon)
    finally:
        kill_all([daemon])


async def test_the_clean_up_after_a_normal_exit_spares_a_fully_detached_daemon(tmp_path: Path) -> None:
    """A background child still holds stdout when the command exits: it is ended after the grace, the daemon
    the command also started is not."""
    holder, daemon_pidfile = tmp_path / "holder", tmp_path / "pid"
    shell = step(f"{daemonize(daemon_pidfile)}; sleep 300 & echo $! > {holder}; echo done")
    await shell.run(step_context({}, step_name="s"))
    daemon = await wait_for_pid(daemon_pidfile)
    try:
        assert shell.outputs["s.stdout"] == "done\n"
        assert await wait_gone(await wait_for_pid(holder))
        assert not await wait_gone(daemon, within=0.3)
    finally:
        kill_all([daemon])


async def test_the_command_gets_a_tracking_id_that_config_env_cannot_replace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRACKING_VARIABLE, "inherited-from-the-host")
    sink = RecordingSink()
    seen = []
    for host_env in ("none", "all"):
        shell = ShellStep(
            ShellConfig(
                run=f'echo "${TRACKING_VARIABLE}"', env={TRACKING_VARIABLE: "forged"}, host_env=host_env
            ),
            step_name="s",
        )
        await shell.run(step_context({}, step_name="s", sink=sink))
        seen.append(shell.outputs["s.stdout"].strip())
        assert not any(TRACKING_VARIABLE in str(key) for key in shell.outputs)
    assert all(re.fullmatch("[0-9a-f]{32}", value) for value in seen), seen
    assert seen[0] != seen[1]  # one per command
    notes = [line for line in sink.lines("log") if f"config.env sets ${TRACKING_VARIABLE}" in line]
    assert len(notes) == 2


def start_daemon(tmp_path: Path, name: str, env: dict[str, str]) -> int:
    """Start a fully detached daemon with ``env`` added to this environment; return its pid."""
    pidfile = tmp_path / name
    subprocess.run(
        [sys.executable, str(daemon_script(pidfile)), str(pidfile)], env={**os.environ, **env}, check=True
    )
    for _ in range(200):
        if pidfile.exists():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{pidfile} was never written")


def test_only_the_exact_marker_entry_counts(tmp_path: Path) -> None:
    """The environment's entries are compared whole: a longer or shorter value, a longer name, or the entry's
    text inside another variable's value do not make a process ours. Daemons count only when asked for."""
    token = new_tracking_id()
    near_misses = [
        {TRACKING_VARIABLE: token + "0"},
        {TRACKING_VARIABLE: token[:-1]},
        {"X" + TRACKING_VARIABLE: token},
        {"OTHER": f"{TRACKING_VARIABLE}={token}"},
    ]
    leader = subprocess.Popen(["sleep", "300"], start_new_session=True)
    pids = [leader.pid]
    try:
        ours = start_daemon(tmp_path, "ours", {TRACKING_VARIABLE: token})
        pids.append(ours)
        pids += [start_daemon(tmp_path, f"miss{index}", env) for index, env in enumerate(near_misses)]
        tree = ProcessTree(leader.pid, [], token)
        tree.collect(detached=False)
        assert tree.alive() == [leader.pid]
        tree.collect(detached=True)
        assert sorted(tree.alive()) == sorted([leader.pid, ours])
    finally:
        kill_all(pids)
        leader.wait()


PYTHON_FORKS: list[int] = []
# subprocess runs the interpreter's before-fork hooks only when it forks to run Python in the child (a
# preexec_fn, which also rules out its vfork path); a plain exec never calls them.
os.register_at_fork(before=lambda: PYTHON_FORKS.append(os.getpid()))


async def test_a_command_starts_without_running_python_in_the_child() -> None:
    probe = await asyncio.create_subprocess_exec("true", preexec_fn=os.getpid)
    assert await probe.wait() == 0
    assert PYTHON_FORKS  # the probe sees a preexec_fn
    PYTHON_FORKS.clear()
    shell = step("echo started")
    await shell.run(step_context({}, step_name="s"))
    assert shell.outputs["s.stdout"] == "started\n"
    assert PYTHON_FORKS == []
