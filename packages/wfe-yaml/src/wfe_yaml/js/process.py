"""A worker child process whose exit status is collected by its own handle, and by nothing else.

asyncio's subprocess support shares a child's pid with a ``subprocess.Popen`` (whose ``poll()``, called by its
``kill()`` and when its transport is closed, reaps the child) and with a loop-wide child watcher: whichever
waits first gets the exit status and the other reports 255. A worker killed while its loop is gone is not
reaped at all. Here the process is started with ``os.posix_spawn`` and only a thread of its own handle waits for
it, so its status is always its own, whatever loop (if any) is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import IO

UNKNOWN_EXIT_STATUS = 255
"""Reported only if code outside the pool reaped the child (``waitpid(-1)``, a ``SIGCHLD`` set to ignore)."""


class ChildProcess:
    """A running child with asyncio streams on its stdin, stdout and stderr.

    ``returncode`` is None while it runs, then its exit status, or minus the signal that killed it.
    """

    def __init__(
        self,
        pid: int,
        loop: asyncio.AbstractEventLoop,
        stdin: asyncio.StreamWriter | None,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        pipes: Sequence[IO[bytes]],
        transports: list[asyncio.BaseTransport],
    ) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._loop = loop
        self._pipes = pipes
        self._transports = transports
        self._exited: asyncio.Future[int] = loop.create_future()
        # Held while the child is reaped: a signal sent under it can only reach this child, alive or a zombie.
        self._lock = threading.Lock()
        threading.Thread(target=self._collect, name=f"wfe-js-reaper-{pid}", daemon=True).start()

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: Mapping[str, str]) -> ChildProcess:
        """Start ``argv`` in a session of its own, with pipes on its standard streams."""
        loop = asyncio.get_running_loop()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            # Returns once the child has started (a vfork and exec), without waiting for it to run.
            pid = os.posix_spawn(  # noqa: ASYNC221
                argv[0],
                list(argv),
                dict(env),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, stdin_r, 0),
                    (os.POSIX_SPAWN_DUP2, stdout_w, 1),
                    (os.POSIX_SPAWN_DUP2, stderr_w, 2),
                ],
                setsid=True,
            )
        except BaseException:
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, stdout_w, stderr_w):
                os.close(fd)
        # Owned by their transports from here on (closed with them), or closed by abandon().
        pipes = [os.fdopen(stdin_w, "wb", 0), os.fdopen(stdout_r, "rb", 0), os.fdopen(stderr_r, "rb", 0)]
        stdout = asyncio.StreamReader(loop=loop)
        stderr = asyncio.StreamReader(loop=loop)
        transports: list[asyncio.BaseTransport] = []
        try:
            for reader, pipe in ((stdout, pipes[1]), (stderr, pipes[2])):
                read_transport, _ = await loop.connect_read_pipe(
                    functools.partial(_protocol, reader, loop), pipe
                )
                transports.append(read_transport)
            write_transport, protocol = await loop.connect_write_pipe(
                functools.partial(_protocol, asyncio.StreamReader(loop=loop), loop), pipes[0]
            )
            transports.append(write_transport)
        except BaseException:
            child = cls(pid, loop, None, stdout, stderr, pipes, transports)
            child.abandon()
            raise
        stdin = asyncio.StreamWriter(write_transport, protocol, None, loop)
        return cls(pid, loop, stdin, stdout, stderr, pipes, transports)

    def _collect(self) -> None:
        # Wait for the exit without reaping (the pid stays this child's, as a zombie), then reap under the lock.
        if hasattr(os, "waitid"):
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        with self._lock:
            try:
                _, status = os.waitpid(self.pid, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = UNKNOWN_EXIT_STATUS
            self.returncode = code
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._set_exited, code)

    def _set_exited(self, code: int) -> None:
        if not self._exited.done():
            self._exited.set_result(code)

    def kill(self) -> None:
        """Send SIGKILL, unless the child's exit has been collected already."""
        with self._lock:
            if self.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)

    async def wait(self) -> int:
        """The exit status, once the child has exited (awaited in the loop that started it)."""
        return await asyncio.shield(self._exited)

    def close_pipes(self) -> None:
        """Close this end of the child's pipes (in the loop that started it)."""
        for transport in self._transports:
            transport.close()

    def abandon(self) -> None:
        """Kill the child from any thread or loop: its exit is still collected, and its pipes are closed."""
        self.kill()
        if not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.close_pipes)
                return
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.close()


def _protocol(reader: asyncio.StreamReader, loop: asyncio.AbstractEventLoop) -> asyncio.StreamReaderProtocol:
    return asyncio.StreamReaderProtocol(reader, loop=loop)
