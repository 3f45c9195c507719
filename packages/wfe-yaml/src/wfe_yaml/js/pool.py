"""A pool of warm JavaScript worker processes, and the parent's half of running one script.

The parent owns the limits. A script that runs past its timeout, or whose worker grows past the memory limit
(V8's heap limit stops ordinary allocations; ``RLIMIT_DATA`` stops ArrayBuffers; the RSS watch here catches
the rest), is stopped by killing its worker with SIGKILL; a V8 fatal error kills only the worker. Either way
only that step fails, and the next run gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sys
import time
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydantic_core

from wfe_yaml.js.config import DEFAULT_TIMEOUT_SECONDS, JsPermissions
from wfe_yaml.js.errors import (
    JsCancelledError,
    JsMemoryLimitError,
    JsRuntimeMissingError,
    JsScriptError,
    JsTimeoutError,
    JsWorkerCrashedError,
)
from wfe_yaml.js.framing import FrameError, encode_frame, read_frame
from wfe_yaml.js.gateway import Gateway, ModuleLoadError
from wfe_yaml.js.permissions import visible_env
from wfe_yaml.js.process import ChildProcess

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
MIN_MEMORY_LIMIT = 128 * 1024 * 1024
"""The smallest ``memory_limit`` a pool accepts: a worker (Python, V8, the prelude) is 85-95 MiB resident while it
runs a small JavaScript or TypeScript step, so this leaves a script some 30 MiB of its own."""
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


@dataclass(frozen=True, slots=True)
class JsResult:
    """What a script produced: its ``output()`` map (None if it never called ``output``) and its log lines."""

    outputs: dict[str, Any] | None
    logs: list[tuple[str, str]] = field(default_factory=list)
    duration: float = 0.0


def runtime_available() -> bool:
    """True when the ``js`` extra is installed: mini-racer (V8) and aiohttp (``fetch``).

    Only looked up, not imported: V8 runs in the workers, and the host process never needs to load it.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("py_mini_racer", "aiohttp"))
    except (ImportError, ValueError):
        return False


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
            ready = await asyncio.wait_for(worker._read(), _START_TIMEOUT_SECONDS)
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
                await asyncio.wait_for(self.process.wait(), 1.0)
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
                message = await asyncio.wait_for(self._read(), _IDLE_TIMEOUT_SECONDS)
                if message.get("op") == "idle":
                    return True
        except (TimeoutError, FrameError):
            return False


class JsPool:
    """Warm worker processes that run JavaScript (and TypeScript) steps, one script at a time each.

    Workers start on first use and are reused; each job gets a fresh V8 context, so nothing leaks between
    steps.
    ``size`` bounds how many scripts run at once; ``memory_limit`` (bytes, at least ``MIN_MEMORY_LIMIT``) caps
    each worker: V8's heap gets half of it, ArrayBuffers stop at twice it on top of what V8 maps at start, and
    a worker whose resident memory passes it is killed.
    Use ``async with JsPool() as pool`` or call ``close()``. The workers belong to the event loop they started
    in: they exit as that loop shuts down, and a pool used again from another loop starts new ones.
    """

    def __init__(self, *, size: int = 2, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
        if size < 1:
            raise ValueError("JsPool size must be at least 1")
        if memory_limit < MIN_MEMORY_LIMIT:
            raise ValueError(
                f"JsPool memory_limit must be at least {MIN_MEMORY_LIMIT // (1024 * 1024)} MiB "
                f"(got {memory_limit / (1024 * 1024):g} MiB): a worker is about 90 MiB resident before its "
                "script allocates anything"
            )
        self.size = size
        self.memory_limit = memory_limit
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._returns: set[asyncio.Task[None]] = set()
        self._closed = False
        self._at_shutdown: AsyncGenerator[None, None] | None = None
        self._at_loop_shutdown: AsyncGenerator[None, None] | None = None

    async def __aenter__(self) -> JsPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            # Pipes belong to the loop that made them: workers from another loop cannot be used here. Their
            # loop released them as it shut down, unless it was closed without that: kill them (each is still
            # reaped by its own handle).
            for worker in [*self._idle, *self._busy]:
                worker.abandon()
            self._idle.clear()
            self._busy.clear()
            self._loop = loop
            self._slots = asyncio.Semaphore(self.size)
            # Run to its yield: from then on the loop finalizes it as it shuts down. The pool holds it, since the
            # loop keeps its async generators only weakly.
            self._at_loop_shutdown = _release_at_shutdown(self, loop)
            asyncio.ensure_future(anext(self._at_loop_shutdown))
        return self._slots

    async def run(
        self,
        script: str,
        *,
        data: Any = None,
        permissions: JsPermissions | Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,  # noqa: ASYNC109 - a per-script timeout is the point
        env: Mapping[str, str] | None = None,
        modules: Sequence[str] = (),
        script_name: str = "script.js",
        on_log: LogCallback | None = None,
        cancellation: Cancellation | None = None,
    ) -> JsResult:
        """Run ``script`` (JavaScript or TypeScript) with ``data`` as its ``inputs()``.

        Returns its outputs and logs; raises a ``JsError`` subclass when it throws, does not parse, times out,
        runs out of memory, crashes its worker or is cancelled. ``timeout`` is in seconds.
        """
        if self._closed:
            raise RuntimeError("JsPool is closed")
        if not runtime_available():
            raise JsRuntimeMissingError()
        perms = (
            permissions if isinstance(permissions, JsPermissions) else JsPermissions(**(permissions or {}))
        )
        # The name ends up in a `//# sourceURL=` comment: keep it on one line.
        script_name = "".join("_" if c.isspace() else c for c in script_name) or "script.js"
        started = time.monotonic()
        module_sources: dict[str, str] = {}
        if perms.dynamic_import and modules:
            try:
                module_sources = await Gateway(perms, started + timeout).load_modules(list(modules))
            except ModuleLoadError as exc:
                raise JsScriptError("ModuleLoadError", str(exc), script_name=script_name) from exc
        try:
            data_json = pydantic_core.to_json(data, serialize_unknown=True).decode()
        except (pydantic_core.PydanticSerializationError, ValueError) as exc:
            raise JsScriptError(
                "DataError",
                f"the workflow data cannot be passed to the script as JSON: {exc}",
                script_name=script_name,
            ) from exc
        job = {
            "op": "run",
            "script": script,
            "script_name": script_name,
            "data_json": data_json,
            "env": visible_env(perms, env or {}),
            "modules": module_sources,
            "dynamic_import": perms.dynamic_import,
            "heap_limit": self.memory_limit // 2,
        }
        logs = _LogBuffer()
        slots = self._bind()
        await slots.acquire()
        worker: _Worker | None = None
        try:
            worker = self._idle.pop() if self._idle else await _Worker.start(self.memory_limit)
            self._busy.add(worker)
            # The timeout is the script's: waiting for a free worker (or a cold start) does not use it up.
            frame = await worker.run(
                job,
                gateway=Gateway(perms, time.monotonic() + timeout),
                timeout=timeout,
                logs=logs,
                on_log=on_log,
                cancellation=cancellation,
            )
        except _Killed as killed:
            self._retire(worker, slots)
            self._replace_killed()
            raise killed.error from None
        except BaseException:
            self._retire(worker, slots)
            raise
        self._hand_back(worker, slots)
        return _result(frame, logs.lines(), script_name, time.monotonic() - started, self.memory_limit // 2)

    def _retire(self, worker: _Worker | None, slots: asyncio.Semaphore) -> None:
        if worker is not None:
            self._busy.discard(worker)
        slots.release()

    def _replace_killed(self) -> None:
        # Starting a worker takes ~0.2 s; do it now, in the background, so the next step finds one warm.
        async def start() -> None:
            if self._closed or len(self._idle) + len(self._busy) >= self.size:
                return
            try:
                worker = await _Worker.start(self.memory_limit)
            except JsWorkerCrashedError:
                return
            if self._closed or len(self._idle) + len(self._busy) >= self.size:
                await worker.close()
            else:
                self._idle.append(worker)

        task = asyncio.create_task(start())
        self._returns.add(task)
        task.add_done_callback(self._returns.discard)

    def _hand_back(self, worker: _Worker, slots: asyncio.Semaphore) -> None:
        # The caller has its result already; the worker rejoins the pool once it reports its context closed
        # (or is killed if it does not), and only then is its slot free again.
        async def back() -> None:
            kept = False
            try:
                kept = await worker.wait_idle() and not self._closed
            except GeneratorExit:
                # Its loop was closed with this task still pending, and the coroutine is being finalized:
                # nothing can be awaited any more. The worker is killed and its exit collected without a loop;
                # it stays in _busy, where the pool's next loop finds it.
                worker.abandon()
                raise
            except BaseException:
                self._busy.discard(worker)
                # also when cancelled (its loop is shutting down): the exit is collected here, in its loop
                await worker.kill()
                slots.release()
                raise
            self._busy.discard(worker)
            if kept:
                self._idle.append(worker)
            else:
                await worker.kill()
            slots.release()

        task = asyncio.create_task(back())
        self._returns.add(task)
        task.add_done_callback(self._returns.discard)

    async def close(self) -> None:
        """Stop every worker. Runs still in progress fail with ``JsWorkerCrashedError``."""
        self._closed = True
        await self._release()

    async def _release(self) -> None:
        """Stop this loop's workers and collect their exits; the pool can go on in another loop."""
        for task in list(self._returns):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(worker.close() for worker in workers), return_exceptions=True)


def _result(
    frame: dict[str, Any], logs: list[tuple[str, str]], script_name: str, duration: float, heap_limit: int
) -> JsResult:
    if frame.get("ok"):
        result = json.loads(frame["result_json"], parse_int=_js_integer)
        if result.get("ok"):
            outputs = result.get("outputs")
            return JsResult(
                outputs=outputs if isinstance(outputs, dict) else None, logs=logs, duration=duration
            )
        error = result.get("error") or {}
    else:
        error = frame.get("error") or {}
    if error.get("name") == "MemoryLimitError":
        raise JsMemoryLimitError(heap_limit, "V8 heap limit", logs=logs)
    raise JsScriptError(
        str(error.get("name") or "Error"),
        str(error.get("message", "")),
        line=error.get("line"),
        column=error.get("column"),
        stack=str(error.get("stack") or ""),
        script_name=script_name,
        logs=logs,
    )


def _js_integer(text: str) -> int:
    # JavaScript prints a double past 2**53 in its shortest form ("1152921504606847000" for 2**60); the value
    # the script held is that double, so convert through float rather than trusting the digits.
    value = int(text)
    return value if abs(value) <= 2**53 else int(float(text))


_default_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, JsPool] = weakref.WeakKeyDictionary()


def default_pool() -> JsPool:
    """The shared pool of the running event loop, made on first use (steps use it unless given one).

    It is closed as the loop shuts down (``asyncio.run`` and ``asyncio.Runner`` finalize async generators
    then): its workers exit and are reaped in their own loop. Left to the garbage collector, a worker would
    be killed without its exit being collected, and the standard library would later reap that pid, which
    by then may belong to another child of the process."""
    loop = asyncio.get_running_loop()
    pool = _default_pools.get(loop)
    if pool is None or pool._closed:
        pool = JsPool()
        _default_pools[loop] = pool
        closer = _close_at_shutdown(pool)
        pool._at_shutdown = closer  # a strong reference: the loop keeps its async generators weakly
        asyncio.ensure_future(anext(closer))  # to its yield: from then on the loop finalizes it at shutdown
    return pool


async def _release_at_shutdown(pool: JsPool, loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
    # Any pool, as the loop it runs in shuts down: its workers exit, and are reaped, while the loop still runs.
    try:
        yield
    finally:
        if pool._loop is loop:
            await pool._release()


async def _close_at_shutdown(pool: JsPool) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await pool.close()
