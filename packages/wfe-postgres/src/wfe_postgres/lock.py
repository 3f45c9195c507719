"""``PostgresLock``: leases on named resources in a table, fenced by a sequence."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import timedelta
from typing import ClassVar

import psycopg
from psycopg import sql

from wfe_core.errors import LockError, ProviderError
from wfe_core.models import Lease
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider

logger = logging.getLogger(__name__)

# One statement: take a free or lapsed resource, or leave a held one alone. The fence comes from a sequence,
# which never goes back (not across server restarts either); a conflicting attempt burns a number, harmlessly.
_ACQUIRE = (
    "INSERT INTO {locks} AS l (resource, token, fence, expires_at)"
    " VALUES (%s, %s, nextval({fence_seq}), clock_timestamp() + make_interval(secs => %s))"
    " ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token, fence = EXCLUDED.fence,"
    " expires_at = EXCLUDED.expires_at WHERE l.expires_at <= clock_timestamp()"
    " RETURNING fence"
)


class PostgresLock(PostgresProvider):
    """Lease locks for many hosts on one PostgreSQL database.

    Times are the server's clock (``clock_timestamp()``), so hosts with skewed clocks agree on expiry.
    """

    _error: ClassVar[type[ProviderError]] = LockError

    async def start(self) -> None:
        """Create the tables if needed. Idempotent."""
        await self._ensure_schema()

    async def stop(self) -> None:
        """Give the pool back. Idempotent; leases stay until they lapse or are released."""
        await self._pool.release()

    @functools.cached_property
    def _acquire_sql(self) -> sql.Composed:
        # nextval() takes the sequence as a string: the quoted, schema-qualified name as a literal.
        fence_seq = sql.Literal(self._layout.table("lock_fences").as_string())
        return sql.SQL(_ACQUIRE).format(locks=self._layout.table("locks"), fence_seq=fence_seq)

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        """Take the resource for ``ttl``, or return None when anyone (this object included) holds it."""
        token = uuid.uuid4().hex
        with wrapped(LockError, "acquire"):
            await self._ensure_schema()
            async with self._pool.connection() as conn:
                cur = await conn.execute(self._acquire_sql, (resource, token, ttl.total_seconds()))
                row = await cur.fetchone()
        return None if row is None else Lease(resource=resource, token=token, fence=int(row[0]))

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """Extend a held lease to ``ttl`` from now; None when it was lost or cannot be confirmed."""
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {locks} SET expires_at = clock_timestamp() + make_interval(secs => %s)"
                        " WHERE resource = %s AND token = %s AND expires_at > clock_timestamp()"
                    ),
                    (ttl.total_seconds(), lease.resource, lease.token),
                )
                return lease if cur.rowcount == 1 else None
        except psycopg.Error as exc:
            logger.warning("could not renew the lease on %r (%s): treating it as lost", lease.resource, exc)
            return None

    async def release(self, lease: Lease) -> None:
        """Give the resource back if this lease still holds it. Idempotent."""
        with wrapped(LockError, "release"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q("DELETE FROM {locks} WHERE resource = %s AND token = %s"),
                    (lease.resource, lease.token),
                )
