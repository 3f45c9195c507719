"""Running the application with uvicorn inside an existing event loop (beside the host)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from wfe_core.errors import ConfigurationError

KEEP_ALIVE_SECONDS = 75
"""How long an idle client connection stays open (nginx's default). A client reuses an idle connection until
its own expiry (httpx: 5 s; urllib3, under requests: never) and must find it still open: uvicorn's default of
5 s closed connections just as httpx sent the next request on them (a reset, no response), and a POST sent on
such a connection is not retried."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to its caller (``wfe serve`` stops the host and the server)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # the same for uvicorn releases before capture_signals
        return


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) into its parts; ConfigurationError naming the expected form."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigurationError(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


class HttpServer:
    """The HTTP listener of a host: ``await start()`` returns once it listens; ``await stop()`` closes it."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not listen
                raise OSError("the HTTP server stopped before it listened")
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        """The port it listens on (the real one when 0 was asked)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
