"""The JavaScript worker process: ``python -m wfe_yaml.js.worker``.

Runs one job at a time, each in a fresh V8 context, and talks to the parent over stdin/stdout with
length-prefixed JSON frames (see ``framing``). The parent owns every limit that matters: it kills this process
on a timeout or a memory overrun, so nothing here has to be able to stop a runaway script. Anything the script
asks of the outside world (``fetch``, ``readFile``) is a request to the parent, which checks the permissions.

Frames the parent sends: ``run`` (a job), ``reply`` (the answer to one of our ``call`` frames).
Frames this process sends: ``ready`` (once, at start), ``log``, ``call``, ``result`` (one per job) and
``idle`` (after a job's context is closed: the worker can take the next job).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import resource
import sys
import threading
from importlib import resources
from typing import Any

from wfe_yaml.js.framing import FrameError, encode_frame, read_frame_sync
from wfe_yaml.js.transpiler import TranspileError, Transpiler, needs_module_transform

_MEMORY_POLL_SECONDS = 0.05
MAX_RESULT_CHARS = 64 * 1024 * 1024
"""Largest outputs JSON a script may return; more is refused so the frame stays well under its limit."""
MAX_LOG_LINES = 100_000
"""Most lines one step may log; later lines are dropped, and the log says so."""
MAX_LOG_CHARS = 16 * 1024 * 1024
"""Most characters one step may log (its lines added up); later lines are dropped, and the log says so."""
_PARSE_ERROR = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<name>[A-Za-z]*Error): (?P<message>.*)$")


class _Channel:
    """Frames out on a private copy of stdout; frames in on a reader thread that feeds the event loop."""

    def __init__(self, out_fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._out_fd = out_fd
        self._loop = loop
        self._lock = threading.Lock()
        self.jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending: dict[int, asyncio.Future[str]] = {}

    def send(self, message: dict[str, Any]) -> None:
        frame = memoryview(encode_frame(message))
        with self._lock:
            while frame:
                written = os.write(self._out_fd, frame)
                frame = frame[written:]

    def start_reader(self) -> None:
        threading.Thread(target=self._read_forever, name="wfe-js-reader", daemon=True).start()

    def _read_forever(self) -> None:
        stdin = sys.stdin.buffer
        while True:
            try:
                message = read_frame_sync(stdin)
            except (FrameError, ValueError, OSError):
                # The parent went away (or broke the protocol): nobody is left to answer to. Exit at once,
                # even if a script is spinning on the event loop thread.
                os._exit(0)
            self._loop.call_soon_threadsafe(self._dispatch, message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "run":
            self.jobs.put_nowait(message)
        elif op == "reply":
            future = self.pending.pop(int(message["id"]), None)
            if future is not None and not future.done():
                future.set_result(str(message["result"]))
        elif op == "shutdown":
            os._exit(0)


class _Worker:
    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._call_ids = itertools.count(1)
        self._prelude = resources.files("wfe_yaml.js").joinpath("prelude.js").read_text(encoding="utf-8")
        self._transpiler = Transpiler()

    async def serve(self) -> None:
        while True:
            job = await self._channel.jobs.get()
            result = await self._run_job(job)
            self._channel.send({"op": "result", **result})
            self._channel.send({"op": "idle"})

    async def _run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        from py_mini_racer import JSEvalException, JSOOMException, JSParseException, MiniRacer

        script_name = str(job["script_name"])
        try:
            code, modules = self._prepare(job)
        except TranspileError as exc:
            return _failure("SyntaxError", str(exc), exc.line)

        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        channel = self._channel

        async def bridge(kind: Any, payload: Any) -> Any:
            if kind == "log":
                channel.send({"op": "log", "lines": json.loads(str(payload))})
                return None
            if kind == "done":
                if not done.done():
                    done.set_result(str(payload))
                return None
            call_id = next(self._call_ids)
            answer: asyncio.Future[str] = loop.create_future()
            channel.pending[call_id] = answer
            channel.send({"op": "call", "id": call_id, "kind": str(kind), "payload": str(payload)})
            return await answer

        racer = MiniRacer()
        try:
            racer.set_hard_memory_limit(int(job["heap_limit"]))
            async with racer.wrap_py_function(bridge) as js_bridge:
                setup = {
                    "scriptName": script_name,
                    "dataJson": job["data_json"],
                    "env": job["env"],
                    "modules": modules,
                    "dynamicImport": bool(job["dynamic_import"]),
                    "maxOutputChars": MAX_RESULT_CHARS,
                    "maxLogLines": MAX_LOG_LINES,
                    "maxLogChars": MAX_LOG_CHARS,
                }
                install: Any = racer.eval(self._prelude)
                install(js_bridge, json.dumps(setup))
                try:
                    try:
                        await racer.eval_cancelable(code)
                    except JSParseException as exc:
                        # Plain JavaScript is the common case, so the transpiler only sees scripts V8 refused
                        # to parse; when its output does not parse either, the original error is reported.
                        stripped = self._typescript_fallback(job)
                        if isinstance(stripped, TranspileError):
                            return _pick_syntax_error(_parse_failure(str(exc)), stripped)
                        try:
                            await racer.eval_cancelable(stripped)
                        except JSParseException:
                            return _parse_failure(str(exc))
                except JSOOMException:
                    return _failure("MemoryLimitError", "JavaScript heap limit reached", None)
                except JSEvalException as exc:
                    return _failure("Error", str(exc).splitlines()[0] if str(exc) else "script failed", None)
                outcome = await self._wait(done, racer)
                if outcome is None:
                    return _failure(
                        "MemoryLimitError",
                        "JavaScript heap limit reached: the script used too much memory",
                        None,
                    )
                # The prelude refuses outputs past the limit as they are set; this only backs it up (the result
                # wraps the outputs in a few more characters).
                if len(outcome) > MAX_RESULT_CHARS + 1024:
                    return _failure(
                        "RangeError",
                        f"outputs too large: {len(outcome) // (1024 * 1024)} MiB of JSON, "
                        f"the limit is {MAX_RESULT_CHARS // (1024 * 1024)} MiB",
                        None,
                    )
                return {"ok": True, "result_json": outcome}
        finally:
            for future in channel.pending.values():
                future.cancel()
            channel.pending.clear()
            racer.close()

    def _prepare(self, job: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """The code to evaluate first (the script wrapped in an async function) and the transpiled modules."""
        source = _without_shebang(str(job["script"]))
        name = str(job["script_name"])
        modules = {}
        for spec, text in dict(job.get("modules") or {}).items():
            try:
                modules[spec] = self._transpiler.to_commonjs(text)
            except TranspileError as exc:
                raise TranspileError(f"in module '{spec}': {exc.message}", None) from exc
        if needs_module_transform(source):
            return _wrap(self._transpiler.to_commonjs(source), name), modules
        return _wrap(source, name), modules

    def _typescript_fallback(self, job: dict[str, Any]) -> str | TranspileError:
        """The script with its types stripped, or why the transpiler cannot make sense of it either."""
        try:
            stripped = self._transpiler.strip_types(_without_shebang(str(job["script"])))
        except TranspileError as exc:
            return exc
        return _wrap(stripped, str(job["script_name"]))

    async def _wait(self, done: asyncio.Future[str], racer: Any) -> str | None:
        """The result JSON, or None when V8 stopped the script at its heap limit (it never settles)."""
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(done), _MEMORY_POLL_SECONDS)
            except TimeoutError:
                if racer.was_hard_memory_limit_reached():
                    return None


def _without_shebang(source: str) -> str:
    # Deno accepts a `#!` first line; inside the wrapper it must become a comment (same line count).
    return "//" + source[2:] if source.startswith("#!") else source


def _wrap(source: str, name: str) -> str:
    # The prefix shares the script's first line, so V8's line numbers are the script's own.
    return f"__wfe_start(async function (exports, require) {{{source}\n}})\n//# sourceURL={name}"


def _failure(name: str, message: str, line: int | None) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {"name": name, "message": message, "stack": "", "line": line, "column": None},
    }


def _pick_syntax_error(v8_error: dict[str, Any], ts_error: TranspileError) -> dict[str, Any]:
    # V8 stops at the first type annotation of a TypeScript script; when sucrase got further, its error is the
    # real one (a TypeScript script with a syntax error). Otherwise V8's own wording is clearer.
    v8_line = v8_error["error"]["line"] or 0
    if ts_error.line is not None and ts_error.line > v8_line:
        return _failure("SyntaxError", ts_error.message, ts_error.line)
    return v8_error


def _parse_failure(text: str) -> dict[str, Any]:
    first = text.splitlines()[0] if text else ""
    match = _PARSE_ERROR.match(first)
    if match is None:
        return _failure("SyntaxError", first or "the script does not parse", None)
    return _failure(match["name"], match["message"], int(match["line"]))


def main() -> None:
    """Entry point of the worker process; its argument is how much memory ArrayBuffers may take, in bytes."""
    data_allowance = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    # A fatal V8 error must end the process at once, not after writing a core file the size of its heap.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Frames go to a private copy of stdout; fd 1 becomes stderr so no stray print can corrupt the protocol.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    asyncio.run(_serve(out_fd, data_allowance))


def _limit_data(allowance: int) -> None:
    """Cap the data segment at what V8 has mapped already plus ``allowance``.

    V8's heap limit does not count ArrayBuffers: past this cap their allocations fail (a RangeError) before
    they can exhaust the host. V8 maps several hundred MiB up front, so the cap is counted from there; were it
    absolute, V8 would hit it first with ordinary heap growth and spend seconds in last-resort garbage
    collections before dying, instead of being stopped by the parent's resident-memory watch.
    """
    if allowance <= 0:
        return
    mapped = 0
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmData:"):
                mapped = int(line.split()[1]) * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_DATA, (mapped + allowance, mapped + allowance))


async def _serve(out_fd: int, data_allowance: int) -> None:
    from py_mini_racer import MiniRacer

    channel = _Channel(out_fd, asyncio.get_running_loop())
    worker = _Worker(channel)
    # Start V8 now (the first context costs ~65 ms) so the first job does not pay for it.
    MiniRacer().close()
    _limit_data(data_allowance)
    channel.start_reader()
    channel.send({"op": "ready", "pid": os.getpid()})
    await worker.serve()


if __name__ == "__main__":
    main()
