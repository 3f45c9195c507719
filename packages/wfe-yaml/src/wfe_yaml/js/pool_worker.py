"""One worker process seen from the parent: starting it, running one job on it, its limits, killing it.

The pool (``wfe_yaml.js.pool``) hands jobs to these; a script that runs past its timeout, or whose worker grows
past the memory limit, is stopped here by killing the worker with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from wfe_yaml.js.errors import JsCancelledError, JsMemoryLimitError, JsTimeoutError, JsWorkerCrashedError
from wfe_yaml.js.framing import FrameError, encode_frame, read_frame
from wfe_yaml.js.gateway import Gateway
from wfe_yaml.js.process import ChildProcess

MAX_KEPT_LOG_CHARS = 1024 * 1024
"""How much of a run's log ``JsResult.logs`` and error ``logs`` keep (the newest lines); ``on_log`` sees all."""
_START_TIMEOUT_SECONDS = 30.0
_IDLE_TIMEOUT_SECONDS = 5.0
_RSS_POLL_SECONDS = 0.05
_STDERR_DRAIN_SECONDS = 10.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_WORKER_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

LogCallback = Callable[[str, str], None]
"""Receives ``(stream, text)`` for each line the script logs: stream is ``stdout``, ``stderr`` or ``log``."""


class Cancellation(Protocol):
    """Anything with an awaitable ``wait()`` that returns when the run must stop (``CancellationSignal``)."""

    async def wait(self) -> None: ...


def _worker_env() -> dict[str, str]:
    # Workers see none of the host's secrets: scripts get only what their step's env allowlist passes on.
    env = {key: os.environ[key] for key in _WORKER_ENV_KEYS if key in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class _LogBuffer:
    """The lines a run keeps for its result: the newest ones, up to a character budget (all are streamed)."""

    def __init__(self, max_chars: int = MAX_KEPT_LOG_CHARS) -> None:
        self._lines: deque[tuple[str, str]] = deque()
        self._chars = 0
        self._dropped = 0
        self._max_chars = max_chars

    def append(self, stream: str, text: str) -> None:
        self._lines.append((stream, text))
        self._chars += len(text)
        while self._chars > self._max_chars and len(self._lines) > 1:
            _, old = self._lines.popleft()
            self._chars -= len(old)
            self._dropped += 1

    def lines(self) -> list[tuple[str, str]]:
        kept = list(self._lines)
        if self._dropped:
            kept.insert(0, ("log", f"[{self._dropped} earlier log lines not kept]"))
        return kept


class _Killed(Exception):
    """The worker was killed; ``error`` is what the run raises."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Worker:
    """One worker process, seen from the parent."""

    def __init__(self, process: ChildProcess, memory_limit: int) -> None:
        self.process = process
        self.memory_limit = memory_limit
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        self.alive = True

    @classmethod
    async def start(cls, memory_limit: int) -> _Worker:
        process = await ChildProcess.spawn(
            [sys.executable, "-m", "wfe_yaml.js.worker", str(memory_limit * 2)], _worker_env()
        )
        worker = cls(process, memory_limit)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result and drops a cancel that
            # lands as the frame arrives, and the cancelled run would then go on with the worker
            async with asyncio.timeout(_START_TIMEOUT_SECONDS):
                ready = await worker._read()
        except (TimeoutError, FrameError) as exc:
            await worker.kill()
            raise JsWorkerCrashedError(f"the worker did not start: {worker.describe_exit()}") from exc
        except asyncio.CancelledError:
            await worker.kill()
            raise
        if ready.get("op") != "ready":
            await worker.kill()
            raise JsWorkerCrashedError(f"the worker did not start: unexpected {ready.get('op')!r} frame")
        return worker

    async def _drain_stderr(self) -> None:
        # Read chunks, not lines: V8's fatal-error dumps can hold lines longer than a StreamReader's limit.
        stream = self.process.stderr
        partial = b""
        while chunk := await stream.read(65536):
            *complete, partial = (partial + chunk).split(b"\n")
            partial = partial[-4096:]
            for line in complete:
                self.stderr_tail.append(line[-4096:].decode(errors="replace").rstrip())
        if partial:
            self.stderr_tail.append(partial.decode(errors="replace").rstrip())

    async def _read(self) -> dict[str, Any]:
        return await read_frame(self.process.stdout)

    async def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(encode_frame(message))
        await stdin.drain()

    def rss(self) -> int | None:
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            return None

    def describe_exit(self) -> str:
        code = self.process.returncode
        if code is None:
            status = "still running"
        elif code < 0:
            try:
                status = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                status = f"killed by signal {-code}"
        else:
            status = f"exited with status {code}"
        lines = [line.strip(" #\t") for line in self.stderr_tail if line.strip(" #\t") and "[0x" not in line]
        # V8's fatal errors print a message and then a long backtrace: the message is what explains the crash.
        telling = [line for line in lines if "Fatal" in line or "out of memory" in line or "Error" in line]
        tail = "; ".join((telling or lines)[-3:])
        if code is not None and code in (-signal.SIGTRAP, 128 + signal.SIGTRAP) or "out of memory" in tail:
            status += " (V8 ran out of memory)"
        return f"{status}{': ' + tail if tail else ''}"

    async def kill(self) -> None:
        """Kill the worker (if it still runs) and collect its exit status and its last stderr lines."""
        self.alive = False
        self.process.kill()
        await self.process.wait()
        # The process is gone, so its stderr ends as soon as what it wrote last is read; the bound is only for
        # a pipe some other process still holds open.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._stderr_task, _STDERR_DRAIN_SECONDS)
        self.process.close_pipes()

    def abandon(self) -> None:
        """Kill a worker of another event loop: its exit status is collected all the same, without that loop."""
        self.alive = False
        self.process.abandon()

    async def close(self) -> None:
        """Ask the worker to exit, and kill it if it does not within a second."""
        if self.alive and self.process.returncode is None:
            with contextlib.suppress(OSError, RuntimeError):
                await self.send({"op": "shutdown"})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.process.wait()
        await self.kill()

    async def run(
        self,
        job: dict[str, Any],
        *,
        gateway: Gateway,
        timeout: float,  # noqa: ASYNC109 - enforced by killing the worker
        logs: _LogBuffer,
        on_log: LogCallback | None,
        cancellation: Cancellation | None,
    ) -> dict[str, Any]:
        """Run one job; returns the worker's result frame, or raises ``_Killed`` after killing the worker."""
        calls: set[asyncio.Task[None]] = set()

        async def answer(call_id: int, kind: str, payload: str) -> None:
            reply = await gateway.handle(kind, payload)
            with contextlib.suppress(OSError, RuntimeError):
                await self.send({"op": "reply", "id": call_id, "result": reply})

        async def exchange() -> dict[str, Any]:
            await self.send(job)
            while True:
                message = await self._read()
                op = message.get("op")
                if op == "log":
                    for stream, text in message.get("lines", []):
                        logs.append(str(stream), str(text))
                        if on_log is not None:
                            on_log(str(stream), str(text))
                elif op == "call":
                    task = asyncio.create_task(
                        answer(int(message["id"]), str(message["kind"]), str(message["payload"]))
                    )
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                elif op == "result":
                    return message

        async def watch_memory() -> None:
            while True:
                await asyncio.sleep(_RSS_POLL_SECONDS)
                rss = self.rss()
                if rss is not None and rss > self.memory_limit:
                    return

        watchers: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(exchange()): "exchange",
            asyncio.create_task(watch_memory()): "memory",
        }
        if cancellation is not None:
            watchers[asyncio.create_task(cancellation.wait())] = "cancel"
        try:
            done, _ = await asyncio.wait(watchers, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self.kill()
            raise
        finally:
            for task in [*watchers, *calls]:
                task.cancel()
        reason = watchers[next(iter(done))] if done else "timeout"
        if reason == "exchange":
            task = next(iter(done))
            error = task.exception()
            if error is None:
                return task.result()  # type: ignore[no-any-return]
            await self.kill()
            if not isinstance(error, FrameError):
                # Not the worker's fault (an on_log callback raised, say): the caller gets its own error back.
                raise _Killed(error)
            raise _Killed(JsWorkerCrashedError(self.describe_exit(), logs=logs.lines()))
        await self.kill()
        if reason == "memory":
            raise _Killed(
                JsMemoryLimitError(self.memory_limit, "worker RSS over the limit", logs=logs.lines())
            )
        if reason == "cancel":
            raise _Killed(JsCancelledError(logs=logs.lines()))
        raise _Killed(JsTimeoutError(timeout, logs=logs.lines()))

    async def wait_idle(self) -> bool:
        """True once the worker has closed the job's context and can take another."""
        try:
            while True:
                async with asyncio.timeout(_IDLE_TIMEOUT_SECONDS):
                    message = await self._read()
                if message.get("op") == "idle":
                    return True
        except (TimeoutError, FrameError):
            return False
