"""Bearer-token auth: the tokens, where they come from, and the middleware that checks them.

Every ``/api/`` route needs ``Authorization: Bearer <token>`` when tokens are configured. ``/healthz`` is open
(for load balancers); the webhooks check their HMAC signature instead; the dashboard's pages are static shells
whose every piece of data comes from the API with the token the browser holds. Tokens are compared in constant
time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from wfe_core.errors import ConfigurationError
from wfe_server._errors import error_response

TOKENS_ENV = "WFE_SERVER_TOKENS"


class ServerConfigError(ConfigurationError):
    """The server cannot start as configured; the message says what to change."""


def load_tokens(token_file: Path | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The tokens of ``token_file`` (one per line; blank lines and ``#`` comments skipped) and of
    ``WFE_SERVER_TOKENS`` (comma- or whitespace-separated)."""
    tokens: list[str] = []
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServerConfigError(f"cannot read the token file {token_file}: {exc.strerror}") from exc
        tokens.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    env = (environ if environ is not None else os.environ).get(TOKENS_ENV, "")
    tokens.extend(part for part in env.replace(",", " ").split() if part)
    return tokens


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def check_bind(host: str, tokens: Iterable[str], insecure: bool) -> None:
    """Refuse a non-loopback listener without tokens, unless ``insecure``."""
    if not is_loopback(host) and not list(tokens) and not insecure:
        raise ServerConfigError(
            f"--http {host} listens beyond this machine but no tokens are configured: give --token-file FILE "
            f"or set {TOKENS_ENV}, or pass --insecure to serve without auth"
        )


class BearerAuth:
    """ASGI middleware: 401 on an ``/api/`` request without one of ``tokens``."""

    def __init__(self, app: ASGIApp, tokens: Iterable[str]) -> None:
        self.app = app
        self._tokens = [token.encode("utf-8") for token in tokens]

    def _allowed(self, header: bytes | None) -> bool:
        if header is None or not header.startswith(b"Bearer "):
            return False
        given = header[len(b"Bearer ") :].strip()
        ok = False
        for token in self._tokens:  # every token compared, so the time says nothing about which matched
            ok |= hmac.compare_digest(given, token)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._tokens or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        if not self._allowed(header):
            response = error_response(
                401, "Unauthorized", "missing or unknown bearer token: send Authorization: Bearer <token>"
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
