"""The parent's side of what a script asks for: ``fetch``, ``readFile`` and module sources.

Every request is checked against the step's permissions here, in the parent, and performed here too, so the
worker process needs no network or file access of its own. HTTP runs on the event loop (``httpclient``, loaded
on first use: aiohttp comes with the ``js`` extra): each request ends by the step's deadline and is cancelled
when the step ends, and redirects are followed only to allowed hosts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from wfe_yaml.js.config import JsPermissions
from wfe_yaml.js.permissions import PermissionDenied, check_net, check_read, parse_http_url

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest response body or file a script can read in one call."""


class ModuleLoadError(Exception):
    """A module listed in ``modules`` could not be loaded; the message says which and why."""


def _error(message: str, name: str = "Error") -> str:
    return json.dumps({"error": message, "name": name})


class Gateway:
    """Serves one run's requests under its permissions, within its deadline (a ``time.monotonic()`` value)."""

    def __init__(self, permissions: JsPermissions, deadline: float) -> None:
        self._permissions = permissions
        self._deadline = deadline

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    async def handle(self, kind: str, payload: str) -> str:
        """The JSON reply to one request from the script (an ``error`` member when it fails)."""
        try:
            request = json.loads(payload)
        except ValueError:
            return _error("malformed request")
        if kind == "fetch":
            return await self._fetch(request)
        if kind == "readFile":
            return await self._read_file(str(request.get("path", "")))
        return _error(f"unknown request '{kind}'")

    async def _fetch(self, request: dict[str, Any]) -> str:
        url = str(request.get("url", ""))
        method = str(request.get("method", "GET")).upper()
        try:
            check_net(url, self._permissions.net)
        except PermissionDenied as exc:
            return _error(str(exc), "PermissionDenied")
        except ValueError as exc:
            return _error(str(exc), "TypeError")
        body: bytes | None = None
        if "body_b64" in request:
            body = base64.b64decode(request["body_b64"])
        elif request.get("body") is not None:
            body = str(request["body"]).encode()
        headers = [(str(k), str(v)) for k, v in request.get("headers", [])]
        from wfe_yaml.js.httpclient import FetchError, http_request

        try:
            reply = await http_request(
                url, method, headers, body, self._permissions.net, self._remaining(), MAX_BODY_BYTES
            )
        except PermissionDenied as exc:
            return _error(str(exc), "PermissionDenied")
        except (ValueError, FetchError) as exc:
            if isinstance(exc, FetchError) and self._remaining() <= 0:
                # The step's deadline ended the request: the step's timeout, due at that same moment, ends the
                # run (as a timeout, its cause) and cancels this call; the script never sees a fetch error.
                await asyncio.Future()
            return _error(f"Fetch failed for '{url}': {exc}", "TypeError")
        return json.dumps(reply)

    async def _read_file(self, path: str) -> str:
        try:
            real = check_read(path, self._permissions.read)
        except PermissionDenied as exc:
            return _error(str(exc), "PermissionDenied")
        try:
            data = await asyncio.to_thread(_read_bytes, real)
        except OSError as exc:
            return _error(f"Failed to read file '{path}': {exc.strerror or exc}")
        return json.dumps({"body_b64": base64.b64encode(data).decode()})

    async def load_modules(self, specifiers: list[str]) -> dict[str, str]:
        """The source of each listed module, loaded under the step's ``net``/``read`` permissions.

        ``npm:name@version`` means ``https://esm.sh/name@version``; ``http(s)://`` URLs need ``net``; file
        paths and ``file://`` URLs need ``read``. Modules must be self-contained or import only other
        listed ones.
        """
        return {spec: await self._load_module(spec) for spec in specifiers}

    async def _load_module(self, spec: str) -> str:
        from wfe_yaml.js.httpclient import FetchError, http_request

        location = f"https://esm.sh/{spec[4:]}" if spec.startswith("npm:") else spec
        try:
            if location.startswith(("http://", "https://")):
                parse_http_url(location)
                check_net(location, self._permissions.net)
                reply = await http_request(
                    location, "GET", [], None, self._permissions.net, self._remaining(), MAX_BODY_BYTES
                )
                if not 200 <= reply["status"] < 300:
                    raise ModuleLoadError(f"Cannot load module '{spec}': HTTP {reply['status']}")
                return base64.b64decode(reply["body_b64"]).decode()
            path = (
                urllib.request.url2pathname(urlsplit(location).path)
                if location.startswith("file:")
                else location
            )
            real = check_read(path, self._permissions.read)
            return (await asyncio.to_thread(_read_bytes, real)).decode()
        except ModuleLoadError:
            raise
        except (PermissionDenied, ValueError, OSError, FetchError) as exc:
            raise ModuleLoadError(f"Cannot load module '{spec}': {exc}") from exc


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise OSError(f"file larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
    return data
