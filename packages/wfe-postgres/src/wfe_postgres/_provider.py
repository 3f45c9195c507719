"""What the three PostgreSQL providers share: construction from a URL or a pool, the layout, migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from wfe_core.errors import ConfigurationError, ProviderError
from wfe_postgres._failures import wrapped
from wfe_postgres._layout import Layout
from wfe_postgres._migrations import drop_schema_objects, migrate
from wfe_postgres._pools import PoolHandle, split_url


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class PostgresProvider:
    """Base of ``PostgresPersistence``, ``PostgresQueue`` and ``PostgresLock``."""

    _error: ClassVar[type[ProviderError]] = ProviderError
    _url_float_options: ClassVar[tuple[str, ...]] = ()
    """Numeric options this provider also reads from the URL's query (the others ignore them)."""

    def __init__(self, pool: PoolHandle, *, schema: str = "wfe", table_prefix: str = "") -> None:
        self._layout = Layout(schema, table_prefix)
        self._pool = pool

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        table_prefix: str | None = None,
        min_pool_size: int = 1,
        max_pool_size: int = 10,
        prepare_threshold: int | None = 5,
        pool_timeout: float = 30.0,
        **options: Any,
    ) -> Self:
        """A provider on ``url`` (``postgresql://user:password@host:port/db``).

        Providers created from the same URL in one event loop share one connection pool, so a host using
        PostgreSQL for persistence, queue and lock opens one pool. Percent-encode special characters of the
        password. ``schema`` and ``table_prefix`` may also be given as URL query parameters
        (``?schema=wfe_prod&table_prefix=wfe_``), and so may the queue's ``visibility_timeout`` and
        ``poll_interval`` (ignored by the other providers, so one URL serves all three); keyword arguments
        win.

        Args:
            url: the libpq connection URL.
            schema: the schema holding wfe's tables (default ``wfe``), created if missing.
            table_prefix: prepended to every table and index name (default empty).
            min_pool_size: connections the shared pool keeps open.
            max_pool_size: connections the shared pool opens at most.
            prepare_threshold: executions of a statement before psycopg prepares it server-side; None turns
                prepared statements off (needed behind PgBouncer in transaction mode).
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
            min_size=min_pool_size,
            max_size=max_pool_size,
            prepare_threshold=prepare_threshold,
            timeout=pool_timeout,
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

    async def _ensure_schema(self) -> None:
        """Migrate once per pool and layout: every provider needs the tables, the first call does the work."""
        with wrapped(self._error, "schema migration"):
            entry = await self._pool.entry()
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
