"""Running a command in its own process group, and killing that group."""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of group ``pgid``; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` remains (zombies of our own children included)."""
    return signal_group(pgid, 0)


async def kill_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds; reaps the leader."""
    pgid = process.pid  # start_new_session makes the leader's pid the group id
    if signal_group(pgid, signal.SIGTERM):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # The leader is reaped by wait(); others are not our children, so poll the group until it is empty.
        while loop.time() < deadline:
            if process.returncode is None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(process.wait()), 0.05)
            else:
                await asyncio.sleep(0.05)
            if process.returncode is not None and not group_alive(pgid):
                break
        signal_group(pgid, signal.SIGKILL)
    if process.returncode is None:
        await process.wait()
