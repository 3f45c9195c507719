"""The HTTP requests a script's ``fetch`` (and ``modules``) make, on the host's event loop with aiohttp.

Each request has a total deadline (the step's), so a server that drips a byte at a time cannot hold it longer,
and it is an ordinary task: cancelling it (the step ended or timed out) closes its connection at once. Host
names are looked up in a small thread pool of this module's own, never the event loop's default executor, so
a slow name server cannot starve the host's synchronous steps either. Environment proxies are not used, and
redirects are followed here, each target checked against the step's ``net`` permission before it is contacted.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from wfe_yaml.js.permissions import check_net, normalized_http_url

MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "wfe-js"
_CHUNK_BYTES = 65536
_LOOKUP_THREADS = 4
_lookups = ThreadPoolExecutor(max_workers=_LOOKUP_THREADS, thread_name_prefix="wfe-js-dns")


class FetchError(Exception):
    """The request failed (connection, deadline, oversized body); the message says why."""


async def http_request(
    url: str,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    allow: list[str],
    timeout: float,  # noqa: ASYNC109 - the request's total deadline, in seconds
    max_body: int,
) -> dict[str, Any]:
    """Perform one request (following allowed redirects) and return what the script's ``Response`` is built from.

    The body may have up to ``max_body`` bytes.
    Raises ``PermissionDenied`` for a redirect to a host outside ``allow``, ``ValueError`` for a malformed URL
    and ``FetchError`` when the request fails or its deadline passes.
    """
    target = normalized_http_url(url)
    session_timeout = aiohttp.ClientTimeout(total=max(timeout, 0.001))
    try:
        connector = aiohttp.TCPConnector(resolver=_Resolver())
        async with aiohttp.ClientSession(
            connector=connector, timeout=session_timeout, trust_env=False
        ) as session:
            current = target
            for _ in range(MAX_REDIRECTS + 1):
                request_headers = [("User-Agent", _USER_AGENT), *headers]
                async with session.request(
                    method, current, headers=request_headers, data=body, allow_redirects=False
                ) as response:
                    follow = _redirect(response, current, method)
                    if follow is None:
                        # Any status, 4xx and 5xx included, is an answer: the script decides what it means.
                        payload = await _read_body(response, max_body)
                        return {
                            "status": response.status,
                            "statusText": response.reason or "",
                            "url": current,
                            "redirected": current != target,
                            "headers": [[k.lower(), v] for k, v in response.headers.items()],
                            "body_b64": base64.b64encode(payload).decode(),
                        }
                location, new_method = follow
                check_net(location, allow)
                current = normalized_http_url(location)
                if new_method != method:
                    method, body = new_method, None
                    headers = [
                        (k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")
                    ]
            raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError as exc:
        raise FetchError(f"no complete response within {timeout:.3g}s") from exc
    except aiohttp.ClientError as exc:
        raise FetchError(str(exc) or type(exc).__name__) from exc


def _redirect(response: aiohttp.ClientResponse, current: str, method: str) -> tuple[str, str] | None:
    """Where a redirect leads and with which method, or None when the response is the answer.

    As browsers (and urllib) do: GET and HEAD follow every redirect; POST follows 301, 302 and 303 as a GET;
    other methods, and redirects to anything but http(s), get the redirect itself as their response.
    """
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or not location:
        return None
    absolute = urljoin(current, location)
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return None
    if method in ("GET", "HEAD"):
        return absolute, method
    if method == "POST" and response.status in (301, 302, 303):
        return absolute, "GET"
    return None


async def _read_body(response: aiohttp.ClientResponse, max_body: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > max_body:
            raise FetchError(f"response body larger than {max_body // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


class _Resolver(AbstractResolver):
    """``getaddrinfo`` in this module's own bounded pool (IP addresses are never looked up: aiohttp uses them)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().run_in_executor(
            _lookups, socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG
        )
        return [
            ResolveResult(
                hostname=host,
                host=str(address[0]),
                port=int(address[1]),
                family=info_family,
                proto=proto,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for info_family, _, proto, _, address in infos
            if info_family in (socket.AF_INET, socket.AF_INET6)
        ]

    async def close(self) -> None:
        pass
