"""A pool of warm JavaScript worker processes (each one driven by ``wfe_yaml.js.pool_worker``).

The parent owns the limits. A script that runs past its timeout, or whose worker grows past the memory limit
(V8's heap limit stops ordinary allocations; ``RLIMIT_DATA`` stops ArrayBuffers; the RSS watch here catches
the rest), is stopped by killing its worker with SIGKILL; a V8 fatal error kills only the worker. Either way
only that step fails, and the next run gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import time
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import pydantic_core

from wfe_core.errors import ConfigurationError
from wfe_yaml.js.config import DEFAULT_TIMEOUT_SECONDS, JsPermissions
from wfe_yaml.js.errors import JsRuntimeMissingError, JsScriptError, JsWorkerCrashedError
from wfe_yaml.js.gateway import Gateway, ModuleLoadError
from wfe_yaml.js.permissions import visible_env
from wfe_yaml.js.pool_worker import (
    MAX_KEPT_LOG_CHARS,
    Cancellation,
    LogCallback,
    _Killed,
    _LogBuffer,
    _Worker,
)
from wfe_yaml.js.result import JsResult, _result

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MAX_KEPT_LOG_CHARS",
    "MIN_MEMORY_LIMIT",
    "Cancellation",
    "JsPool",
    "JsResult",
    "LogCallback",
    "default_pool",
    "runtime_available",
]

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
MIN_MEMORY_LIMIT = 128 * 1024 * 1024
"""The smallest ``memory_limit`` a pool accepts: a worker (Python, V8, the prelude) is 85-95 MiB resident while it
runs a small JavaScript or TypeScript step, so this leaves a script some 30 MiB of its own."""


def runtime_available() -> bool:
    """True when the ``js`` extra is installed: mini-racer (V8) and aiohttp (``fetch``).

    Only looked up, not imported: V8 runs in the workers, and the host process never needs to load it.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("py_mini_racer", "aiohttp"))
    except (ImportError, ValueError):
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
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError(
                f"JsPool size must be a whole number of at least 1, not {size!r}: give e.g. JsPool(size=4)"
            )
        if isinstance(memory_limit, bool) or not isinstance(memory_limit, int):
            raise ConfigurationError(
                f"JsPool memory_limit must be a whole number of bytes, not {memory_limit!r}: give e.g. "
                "JsPool(memory_limit=512 * 1024 * 1024)"
            )
        if memory_limit < MIN_MEMORY_LIMIT:
            raise ConfigurationError(
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
