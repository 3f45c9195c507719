"""What the three PostgreSQL providers share: construction from a URL or a pool, the layout, migrations."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from wfe_core.errors import ConfigurationError, ProviderError
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._layout import Layout
from wfe_postgres._migrations import drop_schema_objects, migrate
from wfe_postgres._pools import PoolHandle, split_url

logger = logging.getLogger(__name__)

SETTLE_TIMEOUT = 5.0
"""How long ``stop()``/``close()`` wait for the writes handed to the provider before giving the pool back
(psycopg_pool's own bound on closing a pool)."""


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _url_int(options: dict[str, str], name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"URL option {name}={value!r} must be a whole number of at least 1")
    return int(value)


def _url_seconds(options: dict[str, str], name: str, default: float) -> float:
    value = options.get(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigurationError(f"URL option {name}={value!r} must be a positive number of seconds")
    return seconds


def _url_threshold(value: str | None) -> int | None:
    if value is None:
        return 5
    if value.lower() in ("none", "off", ""):
        return None
    if not value.isdigit():
        raise ConfigurationError(
            f"URL option prepare_threshold={value!r} must be a whole number, or none to turn it off"
        )
    return int(value)


class PostgresProvider:
    """Base of ``PostgresPersistence``, ``PostgresQueue`` and ``PostgresLock``."""

    _error: ClassVar[type[ProviderError]] = ProviderError
    _url_float_options: ClassVar[tuple[str, ...]] = ()
    """Numeric options this provider also reads from the URL's query (the others ignore them)."""

    def __init__(self, pool: PoolHandle, *, schema: str = "wfe", table_prefix: str = "") -> None:
        self._layout = Layout(schema, table_prefix)
        self._pool = pool

    async def _release_pool(self) -> None:
        """Give the pool back once the writes handed to this provider's group commits are done.

        A caller cancelled while its item waits in a batch (a host's poller when the host stops) leaves the
        item to be written all the same; without this wait that statement could still be running when
        ``stop()`` or ``close()`` returned, holding its locks while the application drops the schema or exits.
        The group commits are the provider's cached properties, found in its ``__dict__``. The wait is bounded
        (:data:`SETTLE_TIMEOUT`): a write stuck on a server that is down does not hold the stop for long."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for value in list(vars(self).values()):
            if isinstance(value, GroupCommit) and not await value.settle(
                max(0.0, deadline - time.monotonic())
            ):
                logger.warning(
                    "stopping with writes still in flight after %.0f s; the pool closes anyway",
                    SETTLE_TIMEOUT,
                )
                break
        await self._pool.release()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        table_prefix: str | None = None,
        min_pool_size: int | None = None,
        max_pool_size: int | None = None,
        prepare_threshold: int | None | Literal["default"] = "default",
        pool_timeout: float | None = None,
        **options: Any,
    ) -> Self:
        """A provider on ``url`` (``postgresql://user:password@host:port/db``).

        Providers created from the same URL in one event loop share one connection pool, so a host using
        PostgreSQL for persistence, queue and lock opens one pool. Percent-encode special characters of the
        password. ``schema``, ``table_prefix`` and the pool options may also be given as URL query parameters
        (``?schema=wfe_prod&table_prefix=wfe_&pool_timeout=60``), and so may the queue's
        ``visibility_timeout`` and ``poll_interval`` (ignored by the other providers, so one URL serves all
        three); keyword arguments win. Any other query parameter must be one of libpq's connection parameters
        (``sslmode``, ``application_name``, ``connect_timeout``, ...): an unknown one is refused with a
        ``ConfigurationError`` listing wfe's.

        Args:
            url: the libpq connection URL.
            schema: the schema holding wfe's tables (default ``wfe``), created if missing.
            table_prefix: prepended to every table and index name (default empty).
            min_pool_size: connections the shared pool keeps open (default 1).
            max_pool_size: connections the shared pool opens at most (default 10).
            prepare_threshold: executions of a statement before psycopg prepares it server-side (default 5);
                None (``?prepare_threshold=none`` in the URL) turns prepared statements off (needed behind
                PgBouncer in transaction mode).
            pool_timeout: seconds a call waits for a connection before it raises (default 30).
            **options: provider-specific options (see the subclass).
        """
        libpq_url, url_options = split_url(url)
        for name in cls._url_float_options:
            if name in url_options and name not in options:
                try:
                    options[name] = float(url_options[name])
                except ValueError:
                    raise ConfigurationError(
                        f"URL option {name}={url_options[name]!r} must be a number of seconds"
                    ) from None
        pool = PoolHandle(
            url=libpq_url,
            min_size=min_pool_size
            if min_pool_size is not None
            else _url_int(url_options, "min_pool_size", 1),
            max_size=max_pool_size
            if max_pool_size is not None
            else _url_int(url_options, "max_pool_size", 10),
            prepare_threshold=(
                prepare_threshold
                if prepare_threshold != "default"
                else _url_threshold(url_options.get("prepare_threshold"))
            ),
            timeout=pool_timeout
            if pool_timeout is not None
            else _url_seconds(url_options, "pool_timeout", 30.0),
        )
        return cls(
            pool,
            schema=schema if schema is not None else url_options.get("schema", "wfe"),
            table_prefix=table_prefix if table_prefix is not None else url_options.get("table_prefix", ""),
            **options,
        )

    @classmethod
    def from_pool(
        cls,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        *,
        schema: str = "wfe",
        table_prefix: str = "",
        **options: Any,
    ) -> Self:
        """A provider on the application's own pool.

        wfe never changes session state (``search_path`` included) of these connections: every statement names
        its tables with the schema. The application opens and closes the pool; ``close``/``stop`` leave it
        open.
        """
        return cls(PoolHandle(pool=pool), schema=schema, table_prefix=table_prefix, **options)

    @property
    def schema(self) -> str:
        """The schema holding wfe's tables."""
        return self._layout.schema

    @property
    def table_prefix(self) -> str:
        """The prefix of wfe's table names."""
        return self._layout.table_prefix

    def _schema_ready(self) -> bool:
        """Whether this provider's pool has migrated its schema and prefix. The calls every run makes check
        this first and call ``_ensure_schema`` only when it is False (the check costs no coroutine and no
        error wrapper)."""
        entry = self._pool.held_entry
        return entry is not None and (self._layout.schema, self._layout.table_prefix) in entry.migrated

    async def _ensure_schema(self) -> None:
        """Migrate once per pool and layout: every provider needs the tables, the first call does the work."""
        with wrapped(self._error, "connection"):
            entry = await self._pool.entry()
        with wrapped(self._error, "schema migration"):
            key = (self._layout.schema, self._layout.table_prefix)
            if key in entry.migrated:
                return
            async with entry.migrate_lock:
                if key in entry.migrated:
                    return
                async with self._pool.connection() as conn:
                    await migrate(conn, self._layout)
                entry.migrated.add(key)

    async def drop_schema(self) -> None:
        """Drop every wfe table of this schema and prefix, and the schema once empty (tests, teardown)."""
        with wrapped(self._error, "dropping the schema"):
            entry = await self._pool.entry()
            async with self._pool.connection() as conn:
                await drop_schema_objects(conn, self._layout)
            entry.migrated.discard((self._layout.schema, self._layout.table_prefix))
