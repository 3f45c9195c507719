"""Running a command in its own process group, and killing that group."""

from __future__ import annotations

import asyncio
import os
import signal

POLL_INTERVAL = 0.05


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of group ``pgid``; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def wait_exit(process: asyncio.subprocess.Process) -> int:
    """The exit code, as soon as the process has exited.

    ``Process.wait()`` (before Python 3.12) also waits for the output pipes to close, which never happens
    while a background child still holds them; the return code itself is known as soon as the child exits.
    """
    delay = 0.001  # most commands end within milliseconds: start polling fast, back off to POLL_INTERVAL
    while True:
        code = process.returncode
        if code is not None:
            return code
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_INTERVAL)


async def kill_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
    pgid = process.pid  # start_new_session makes the leader's pid the group id
    if not signal_group(pgid, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    # Members other than the leader are not our children: poll the group until it is empty (members that
    # are zombies awaiting their reaper still count, so a slow reaper costs at most ``grace``).
    while loop.time() < deadline:
        await asyncio.sleep(POLL_INTERVAL)
        if process.returncode is not None and not signal_group(pgid, 0):
            return
    signal_group(pgid, signal.SIGKILL)
    await wait_exit(process)
