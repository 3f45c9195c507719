"""Running a command in its own process group, and ending it with everything it started."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from dataclasses import dataclass

from wfe_yaml.shell.process_tree import TRACKING_VARIABLE, ProcessTree, new_tracking_id

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


def _send(process: asyncio.subprocess.Process, tree: ProcessTree, sig: int, *, detached: bool) -> bool:
    """Send ``sig`` to the group and to every process of the tree; False when none of them is left."""
    tree.collect(detached=detached)
    group = signal_group(process.pid, sig)  # start_new_session makes the leader's pid the group id
    tree.signal(sig)
    if tree.tracked:
        return process.returncode is None or bool(tree.alive())
    return group


async def kill_tree(
    process: asyncio.subprocess.Process, tree: ProcessTree, grace: float, *, detached: bool
) -> None:
    """SIGTERM the command's group and every process of its tree, then SIGKILL whatever is left after
    ``grace`` seconds (processes forked meanwhile included).

    ``detached`` says whether daemons count: processes found only through the tracking marker, having left
    the group and closed the pipes (see :meth:`ProcessTree.collect`). True on a timeout, a cancellation or a
    stopping host; False for the clean-up after a normal exit, which such daemons outlive.
    """
    if not _send(process, tree, signal.SIGTERM, detached=detached):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline:
        await asyncio.sleep(POLL_INTERVAL)
        tree.collect(detached=detached)
        if process.returncode is not None and not (
            tree.alive() if tree.tracked else signal_group(process.pid, 0)
        ):
            return
    _send(process, tree, signal.SIGKILL, detached=detached)
    await wait_exit(process)


def _same(protocol: asyncio.StreamReaderProtocol) -> asyncio.StreamReaderProtocol:
    return protocol


@dataclass(slots=True)
class Spawned:
    """A started command: the process, readers of its stdout and stderr, and its process tree."""

    process: asyncio.subprocess.Process
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    tree: ProcessTree
    transports: list[asyncio.BaseTransport]

    def close(self) -> None:
        """Close the read ends of the pipes (output still written after this point is dropped)."""
        for transport in self.transports:
            transport.close()


async def spawn(argv: list[str], *, env: dict[str, str], cwd: str | None) -> Spawned:
    """Start ``argv`` in a new session with ``env`` plus a fresh ``WFE_PROCESS_TRACKING_ID`` (which replaces
    any value ``env`` holds; every process the command starts inherits it), and with stdout and stderr on
    pipes of our own (their inodes find the processes that hold them).

    Nothing runs in the child before the ``exec`` (no ``preexec_fn``), so ``subprocess`` starts it through
    ``vfork``, without copying the host's memory.

    Raises:
        OSError: the program could not be started.
    """
    loop = asyncio.get_running_loop()
    tracking_id = new_tracking_id()
    env = {**env, TRACKING_VARIABLE: tracking_id}
    pipes = [os.pipe(), os.pipe()]
    files = [os.fdopen(read, "rb", buffering=0) for read, _ in pipes]
    transports: list[asyncio.BaseTransport] = []
    process: asyncio.subprocess.Process | None = None
    tree: ProcessTree | None = None
    try:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=pipes[0][1],
                stderr=pipes[1][1],
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            for _, write in pipes:
                os.close(write)
        tree = ProcessTree(process.pid, [os.fstat(file.fileno()).st_ino for file in files], tracking_id)
        readers = [asyncio.StreamReader(limit=2**20, loop=loop) for _ in files]
        for file, reader in zip(files, readers, strict=True):
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            pipe, _ = await loop.connect_read_pipe(functools.partial(_same, protocol), file)
            transports.append(pipe)
    except BaseException:
        if process is not None:
            # Started, but the step was cancelled (or the pipes failed) before it could watch the command:
            # nothing else would ever end it, so its group and whatever else it started go now.
            if tree is not None:
                tree.collect(detached=True)
            signal_group(process.pid, signal.SIGKILL)
            if tree is not None:
                tree.signal(signal.SIGKILL)
            # and its exit is collected, so no process object is left to the garbage collector still running
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(wait_exit(process)), 5)
        for opened in transports:
            opened.close()
        for file in files[len(transports) :]:
            file.close()
        raise
    return Spawned(process, readers[0], readers[1], tree, transports)
