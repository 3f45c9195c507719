"""The Starlette application: the API, the webhooks, the dashboard, auth and JSON errors."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from wfe_server._api import ROUTES, ServerState
from wfe_server._auth import BearerAuth
from wfe_server._broker import Broker
from wfe_server._dashboard import DASHBOARD_ROUTES
from wfe_server._errors import ApiError, error_response
from wfe_server._webhooks import WEBHOOK_ROUTES, Trigger, WebhookSecrets

if TYPE_CHECKING:
    from wfe import WorkflowHost

logger = logging.getLogger("wfe_server")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.kind, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    return error_response(exc.status_code, kind, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "InternalError", f"{type(exc).__name__}: see the server's log")


def create_app(
    host: WorkflowHost,
    broker: Broker,
    *,
    tokens: Iterable[str] = (),
    names: dict[str, str] | None = None,
    triggers: Iterable[Trigger] = (),
    secrets: WebhookSecrets | None = None,
) -> Starlette:
    """The server's ASGI application over a started ``host`` whose log sink is ``broker``.

    ``names`` gives definitions' display names; ``triggers`` and ``secrets`` configure the webhooks."""
    app = Starlette(
        routes=[*ROUTES, *WEBHOOK_ROUTES, *DASHBOARD_ROUTES],
        middleware=[Middleware(BearerAuth, tokens=list(tokens))],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.wfe = ServerState(host=host, broker=broker, names=dict(names or {}))
    app.state.triggers = list(triggers)
    app.state.secrets = secrets or WebhookSecrets()
    return app
