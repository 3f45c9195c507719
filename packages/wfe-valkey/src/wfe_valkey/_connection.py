"""Clients shared by the providers of one process that were given the same URL."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from wfe_valkey._url import parse_valkey_url

_CONNECT_TIMEOUT = 5.0


@dataclass
class _Shared:
    client: Redis
    users: int


# Keyed by event loop first: an asyncio client belongs to the loop it was created on.
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = (
    weakref.WeakKeyDictionary()
)


def new_client(url: str) -> Redis:
    """A client for ``url`` whose retries are left to the providers (see ``call_with_retry``)."""
    parsed = parse_valkey_url(url)
    return Redis.from_url(
        parsed.redis_url,
        decode_responses=True,
        socket_connect_timeout=_CONNECT_TIMEOUT,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
    )


class ClientHandle:
    """One provider's use of a client: its own one, or a client shared per URL and event loop.

    The shared client is created by the first ``acquire`` and closed when the last user releases it.
    """

    def __init__(self, url: str, client: Redis | None) -> None:
        self._url = parse_valkey_url(url).redis_url
        self._given = client
        self._client: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def acquired(self) -> bool:
        return self._client is not None

    def acquire(self) -> Redis:
        """The client; the first call (per ``release``) takes a share of the URL's client."""
        if self._client is not None:
            return self._client
        if self._given is not None:
            self._client = self._given
            return self._client
        loop = asyncio.get_running_loop()
        per_loop = _shared.setdefault(loop, {})
        entry = per_loop.get(self._url)
        if entry is None:
            entry = per_loop[self._url] = _Shared(client=new_client(self._url), users=0)
        entry.users += 1
        self._client = entry.client
        self._loop = loop
        return self._client

    async def release(self) -> None:
        """Give the share back; closes the shared client when nobody else uses it. Idempotent."""
        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is None or client is self._given or loop is None:
            return
        per_loop = _shared.get(loop, {})
        entry = per_loop.get(self._url)
        if entry is None or entry.client is not client:
            return
        entry.users -= 1
        if entry.users <= 0:
            del per_loop[self._url]
            await client.aclose()
