"""wfe-server: the HTTP side of a wfe host.

A JSON API under ``/api/v1`` (OpenAPI document at ``/api/v1/openapi.json``), ``/healthz``, bearer-token auth,
GitHub and Gitea webhooks, definition graphs, a Server-Sent Events stream and a web dashboard at ``/``. Started
by ``wfe serve --dir FOLDER --db URL --http HOST:PORT``; from Python::

    broker = Broker()
    host = WorkflowHostBuilder().use_persistence(url).use_log_sink(broker).build()
    async with host:
        server = await start_server(host, broker, "127.0.0.1", 8080, tokens=["secret"])
        ...
        await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wfe_server._app import create_app
from wfe_server._auth import TOKENS_ENV, ServerConfigError, check_bind, is_loopback, load_tokens
from wfe_server._broker import Broker
from wfe_server._openapi import openapi_document
from wfe_server._runner import HttpServer, parse_bind
from wfe_server._webhooks import Trigger, WebhookSecrets, triggers_from_on

if TYPE_CHECKING:
    from wfe import WorkflowHost

__version__ = "0.1.0"


class RunningServer:
    """A started server: its listener and the task that feeds the broker the host's lifecycle events."""

    def __init__(self, http: HttpServer, follower: asyncio.Task[None]) -> None:
        self.http = http
        self._follower = follower

    @property
    def port(self) -> int:
        return self.http.port

    async def stop(self) -> None:
        await self.http.stop()
        self._follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._follower


async def start_server(
    host: WorkflowHost,
    broker: Broker,
    bind_host: str,
    port: int,
    *,
    tokens: Iterable[str] = (),
    insecure: bool = False,
    names: dict[str, str] | None = None,
    triggers: Iterable[Trigger] = (),
    secrets: WebhookSecrets | None = None,
) -> RunningServer:
    """Serve ``host`` (started, with ``broker`` as its log sink) on ``bind_host:port``.

    Raises ServerConfigError for a non-loopback address without tokens (unless ``insecure``)."""
    tokens = list(tokens)
    check_bind(bind_host, tokens, insecure)
    broker.bind(asyncio.get_running_loop())
    follower = asyncio.create_task(broker.follow(host.lifecycle_events()))
    app = create_app(host, broker, tokens=tokens, names=names, triggers=triggers, secrets=secrets)
    http = HttpServer(app, bind_host, port)
    try:
        await http.start()
    except BaseException:
        follower.cancel()
        raise
    return RunningServer(http, follower)


__all__ = [
    "TOKENS_ENV",
    "Broker",
    "HttpServer",
    "RunningServer",
    "ServerConfigError",
    "Trigger",
    "WebhookSecrets",
    "check_bind",
    "create_app",
    "is_loopback",
    "load_tokens",
    "openapi_document",
    "parse_bind",
    "start_server",
    "triggers_from_on",
]
