"""A script's network work ends with its step: fetches it never awaited hold no host thread and no connection."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wfe import StepBody, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe_yaml.js import JsPool, JsTimeoutError

FETCHES = 12


class _DripServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _DripHandler)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.started = 0
        self.open = 0

    def count(self, delta: int) -> None:
        with self.lock:
            self.open += delta
            if delta > 0:
                self.started += 1


class _DripHandler(BaseHTTPRequestHandler):
    """Sends its headers, then one byte every half second for a minute: every read succeeds, none completes."""

    server: _DripServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/ready":
            # Answers once every drip request has arrived, so the script knows they are all in flight.
            _wait_until(lambda: self.server.started >= FETCHES, 30)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.count(1)
        try:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(120):
                self.wfile.write(b"x")
                self.wfile.flush()
                if self.server.stopping.wait(0.5):
                    break
        except OSError:
            pass  # the client closed the connection: what the test waits for
        finally:
            self.server.count(-1)


@pytest.fixture
def drip_port() -> Iterator[tuple[_DripServer, int]]:
    server = _DripServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, server.server_address[1]
    server.stopping.set()
    server.shutdown()
    server.server_close()


class _Sync(StepBody):
    thread: str = ""

    def run(self, ctx: StepExecutionContext) -> None:
        self.thread = threading.current_thread().name


def _wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


async def _until(condition: Any, seconds: float) -> bool:
    # In a thread: the loop stays free to run what the condition waits for.
    return await asyncio.to_thread(_wait_until, condition, seconds)


async def test_unawaited_fetches_to_a_dripping_server_do_not_stall_later_sync_steps(
    drip_port: tuple[_DripServer, int],
) -> None:
    server, port = drip_port
    async with JsPool(size=1) as pool:
        result = await pool.run(
            f"""
            for (let i = 0; i < {FETCHES}; i++) fetch(`http://127.0.0.1:{port}/drip/${{i}}`).catch(() => {{}});
            await fetch(`http://127.0.0.1:{port}/ready`);
            output("fired", {FETCHES});
            """,
            permissions={"net": ["127.0.0.1"]},
            timeout=30,
        )
        assert result.outputs == {"fired": FETCHES}
        assert server.started == FETCHES
        # The step is over: every request it left was cancelled and its connection closed.
        assert await _until(lambda: server.open == 0, 10), f"{server.open} connections still open"

        host = WorkflowHostBuilder().build()
        host.register_workflow(WorkflowBuilder().start_with(_Sync).build("sync-after-fetches", 1))
        await host.start()
        try:
            workflow_id = await host.start_workflow("sync-after-fetches", 1, {})
            instance = await host.wait_for_workflow(workflow_id, timeout=10)
            assert instance.status is WorkflowStatus.COMPLETE
        finally:
            await host.stop()


async def test_a_step_timing_out_on_a_dripping_fetch_closes_its_connection(
    drip_port: tuple[_DripServer, int],
) -> None:
    server, port = drip_port
    async with JsPool(size=1) as pool:
        with pytest.raises(JsTimeoutError):
            await pool.run(
                f"await fetch(`http://127.0.0.1:{port}/drip`);", permissions={"net": ["127.0.0.1"]}, timeout=1
            )
    assert server.started == 1
    assert await _until(lambda: server.open == 0, 10), f"{server.open} connections still open"
