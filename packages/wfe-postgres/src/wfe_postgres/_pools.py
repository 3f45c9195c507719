"""Connection pools: one per URL and event loop, shared by every provider created from that URL."""

from __future__ import annotations

import asyncio
import inspect
import select
import sys
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from wfe_core.errors import ConfigurationError

WFE_URL_OPTIONS = (
    "schema",
    "table_prefix",
    "visibility_timeout",
    "poll_interval",
    "min_pool_size",
    "max_pool_size",
    "pool_timeout",
    "prepare_threshold",
)
"""Query parameters of a connection URL that configure wfe rather than libpq (removed before connecting)."""

PROBE_TIMEOUT = 4
"""Seconds the first connection of a URL may take (unless the URL sets libpq's ``connect_timeout``): a server
that accepts the connection but never answers fails the host's start() within 5 s."""


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """Separate wfe's own query parameters (``WFE_URL_OPTIONS``) from the libpq URL.

    The rest of the URL, percent-encoded user and password included, goes to libpq unchanged (libpq decodes
    it), so a password such as ``p@ss:w/rd`` is written ``p%40ss%3Aw%2Frd``. A query parameter that is
    neither wfe's nor libpq's is refused here, with the list of wfe's, rather than by libpq at connect time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigurationError(
            f"not a PostgreSQL URL: {url.split('@')[-1]!r} (expected postgresql://user@host/db)"
        )
    kept: list[str] = []
    ours: dict[str, str] = {}
    # Split by hand rather than parse and re-encode: the rest of the query must reach libpq byte for byte
    # (libpq reads "+" literally, where parse_qsl would turn it into a space).
    for segment in parts.query.split("&"):
        key, _, value = segment.partition("=")
        if unquote(key) in WFE_URL_OPTIONS:
            ours[unquote(key)] = unquote(value)
        elif segment:
            kept.append(segment)
    libpq_url = urlunsplit(parts._replace(query="&".join(kept))) if ours else url
    check_libpq_url(libpq_url)
    return libpq_url, ours


def check_libpq_url(url: str) -> None:
    """Refuse a URL libpq cannot parse (an unknown query parameter, say) with libpq's reason and the fix."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip()
        if "invalid URI query parameter" in reason:
            raise ConfigurationError(
                f"PostgreSQL URL {_redacted(url)!r}: {reason}. wfe reads "
                f"{', '.join(WFE_URL_OPTIONS)}; every other query parameter must be one of libpq's connection "
                f"parameters (sslmode, application_name, connect_timeout, options, ...; see 'Parameter Key "
                f"Words' in the libpq documentation). Fix the name or remove it"
            ) from None
        raise ConfigurationError(f"PostgreSQL URL {_redacted(url)!r} cannot be parsed: {reason}") from None


def _redacted(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


async def probe(url: str, timeout: float) -> None:
    """Connect once and disconnect: what a pool of ``url`` would meet, told at once.

    A pool opened on a URL that cannot work (a database or role that does not exist, a wrong password, a
    server that is not there) retries in the background, logging every failure, and its first caller learns
    of it only after ``pool_timeout``. One plain connection fails within the connect timeout with libpq's own
    reason instead, and leaves nothing behind."""
    options: dict[str, Any] = {}
    if "connect_timeout" not in conninfo_to_dict(url):
        options["connect_timeout"] = max(1, min(PROBE_TIMEOUT, int(timeout)))
    conn = await AsyncConnection.connect(url, **options)
    await conn.close()


@dataclass
class _Entry:
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    factory: Callable[[], AsyncConnectionPool[AsyncConnection[Any]]] | None = None
    """Builds a replacement pool; None for an application's pool, which wfe never replaces."""
    users: int = 0
    migrated: set[tuple[str, str]] = field(default_factory=set)
    migrate_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stale: bool = False
    in_use: int = 0
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def mark_stale(self) -> None:
        if self.factory is not None:
            self.stale = True

    async def refresh(self) -> None:
        """Swap a pool whose connections died for a fresh one.

        psycopg_pool retries a lost server with exponential backoff, so after a long outage its next attempt
        may be minutes away; a fresh pool connects at once, so the first call after the server is back works.
        """
        async with self.refresh_lock:
            if not self.stale or self.factory is None:
                return
            old, self.pool = self.pool, self.factory()
            self.stale = False
            await self.pool.open(wait=False)
            await old.close(timeout=0.5)


# Pools belong to the event loop that opened them; keying by the loop object (weakly) means a closed loop's
# entries go away with it instead of being handed to a new loop that happens to reuse its id.
_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Entry]] = (
    weakref.WeakKeyDictionary()
)
_registry_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def check_idle_connection(conn: AsyncConnection[Any]) -> None:
    """The pool's checkout check, without a round trip for a healthy connection.

    An idle connection has nothing to read: a server that ended the session (restart, terminated backend,
    idle timeout) has sent an error and closed the socket, which makes it readable. Only then, or when the
    socket cannot be polled, is the connection checked with a query (and discarded if that fails). Checking
    every checkout with a query would double the round trips of every call."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        readable = [True]
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def _loop_lock(loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
    lock = _registry_locks.get(loop)
    if lock is None:
        lock = _registry_locks[loop] = asyncio.Lock()
    return lock


def _reraise_swallowed_cancellation() -> None:
    """Raise ``CancelledError`` when the current task was cancelled but is still running.

    On Python < 3.12, ``asyncio.wait_for`` (which psycopg_pool uses to wait for a connection) drops a
    cancellation that lands just as the connection arrives: the caller gets the connection and carries on, and
    a host's ``stop()`` waits forever for a task that no longer knows it was cancelled.
    """
    task = asyncio.current_task()
    if sys.version_info < (3, 12) and task is not None and task.cancelling():
        raise asyncio.CancelledError()


class PoolHandle:
    """A provider's claim on a pool: opened lazily on first use, given back by ``release``.

    Pools created from a URL are shared per (URL, event loop) and closed when their last user releases them.
    A pool handed in by the application (``from_pool``) is used as is and never closed or reconfigured.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None,
        min_size: int = 1,
        max_size: int = 10,
        prepare_threshold: int | None = 5,
        timeout: float = 30.0,
    ) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give exactly one of url or pool")
        self._url = url
        self._own_pool = pool
        self._min_size = min_size
        self._max_size = max_size
        self._prepare_threshold = prepare_threshold
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._entry: _Entry | None = None
        self._external_entry = _Entry(pool) if pool is not None else None

    def shares_database(self, other: PoolHandle) -> bool:
        """Whether ``other`` connects to the same database: the same URL, or the same application pool."""
        if self._url is not None:
            return self._url == other._url
        return self._own_pool is other._own_pool

    async def listen_connection(self) -> AsyncConnection[Any]:
        """A new autocommit connection outside the pool (LISTEN holds a connection for good)."""
        if self._url is not None:
            return await AsyncConnection.connect(self._url, autocommit=True)
        assert self._own_pool is not None
        conninfo: Any = self._own_pool.conninfo
        if callable(conninfo):
            conninfo = conninfo()
            if inspect.isawaitable(conninfo):
                conninfo = await conninfo
        kwargs: dict[str, Any] = (
            dict(self._own_pool.kwargs) if isinstance(self._own_pool.kwargs, dict) else {}
        )
        kwargs["autocommit"] = True
        return await AsyncConnection.connect(str(conninfo), **kwargs)

    @property
    def held_entry(self) -> _Entry | None:
        """The pool entry this handle holds, without opening one (None before the first use)."""
        return self._external_entry if self._external_entry is not None else self._entry

    async def entry(self) -> _Entry:
        if self._external_entry is not None:
            return self._external_entry
        if self._entry is not None:
            return self._entry
        assert self._url is not None
        loop = asyncio.get_running_loop()
        async with _loop_lock(loop):
            pools = _registry.setdefault(loop, {})
            entry = pools.get(self._url)
            if entry is None:
                await probe(self._url, self._timeout)
                entry = pools[self._url] = _Entry(self._new_pool(), factory=self._new_pool)
                await entry.pool.open(wait=False)
            entry.users += 1
        self._loop, self._entry = loop, entry
        return entry

    def _new_pool(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        assert self._url is not None
        return AsyncConnectionPool(
            self._url,
            min_size=self._min_size,
            max_size=max(self._max_size, self._min_size),
            kwargs={"autocommit": True, "prepare_threshold": self._prepare_threshold},
            # A server restart leaves every idle connection dead: checking on checkout discards them instead
            # of failing one call per stale connection.
            check=check_idle_connection,
            timeout=self._timeout,
            open=False,
            name="wfe",
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection from the pool for one unit of work.

        A connection of wfe's own pool is in autocommit mode, so it holds no transaction of its own to end: it
        goes back to the pool as it is (the pool rolls back, or replaces, one that was given back inside a
        transaction or a statement). One of an application's pool (``from_pool``) may not be, so it is
        committed, or rolled back after an error, first, as the pool's ``connection()`` does."""
        entry = await self.entry()
        if entry.stale:
            await entry.refresh()
        pool = entry.pool
        try:
            conn = await pool.getconn()
        except PoolTimeout:
            # A busy pool (every connection lent out) times out too; only a pool with free slots that still
            # cannot hand out a connection has lost the server.
            if entry.in_use < pool.max_size:
                entry.mark_stale()
            raise
        entry.in_use += 1
        try:
            _reraise_swallowed_cancellation()
            if entry.factory is None:
                async with conn:
                    yield conn
            else:
                yield conn
        except psycopg.Error:
            if conn.broken:
                entry.mark_stale()
            raise
        finally:
            entry.in_use -= 1
            await pool.putconn(conn)

    async def release(self) -> None:
        """Give the pool back; the last user of a URL's shared pool closes it. Idempotent."""
        entry, loop = self._entry, self._loop
        self._entry, self._loop = None, None
        if entry is None or loop is None:
            return
        async with _loop_lock(loop):
            entry.users -= 1
            if entry.users > 0:
                return
            assert self._url is not None
            _registry.get(loop, {}).pop(self._url, None)
        await entry.pool.close()
