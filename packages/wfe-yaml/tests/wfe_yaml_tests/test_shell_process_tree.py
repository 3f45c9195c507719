"""A timeout or a cancellation ends every process a shell command started, those that left its process group
included (``setsid``, double forks), and the step fails without waiting on pipes they held."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from wfe_yaml.shell import ShellConfig, ShellStep, ShellTimeoutError
from wfe_yaml.shell.errors import ShellCancelledError
from wfe_yaml.shell.step import PIPE_CLOSE_GRACE

from .step_context import step_context
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
