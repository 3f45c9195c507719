"""``PostgresLock``: leases on named resources in a table, fenced by a sequence."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import psycopg
from psycopg import sql

from wfe_core.errors import LockError, ProviderError
from wfe_core.lease_owner import LeaseOwner, TakeoverCheck
from wfe_core.models import Lease
from wfe_postgres._arrays import number_array, text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._provider import PostgresProvider

logger = logging.getLogger(__name__)

# One statement for a batch of acquires: take each free or lapsed resource, leave a held one alone. The fence
# comes from a sequence, which never goes back (not across server restarts either); a conflicting attempt
# burns a number, harmlessly.
_ACQUIRE = (
    "INSERT INTO {locks} AS l (resource, token, fence, expires_at)"
    " SELECT u.resource, u.token, nextval({fence_seq}), clock_timestamp() + make_interval(secs => u.ttl)"
    " FROM unnest(%s::text[], %s::text[], %s::float8[]) AS u(resource, token, ttl)"
    " ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token, fence = EXCLUDED.fence,"
    " expires_at = EXCLUDED.expires_at WHERE l.expires_at <= clock_timestamp()"
    " RETURNING resource, fence"
)
_RELEASE = (
    "DELETE FROM {locks} AS l USING unnest(%s::text[], %s::text[]) AS u(resource, token)"
    " WHERE l.resource = u.resource AND l.token = u.token"
)


@dataclass(frozen=True)
class _Acquire:
    resource: str
    token: str
    ttl: float


class PostgresLock(PostgresProvider):
    """Lease locks for many hosts on one PostgreSQL database.

    Times are the server's clock (``clock_timestamp()``), so hosts with skewed clocks agree on expiry.
    """

    _error: ClassVar[type[ProviderError]] = LockError

    async def start(self) -> None:
        """Create the tables if needed. Idempotent."""
        await self._ensure_schema()

    @functools.cached_property
    def _owner(self) -> LeaseOwner:
        return LeaseOwner.of_this_process()

    def lease_token(self) -> str:
        """A new lease token naming this provider's holder (what ``acquire`` takes a lease with)."""
        return self._owner.token()

    async def take_over(self, owner: LeaseOwner) -> list[str]:
        """Hold leases as ``owner`` from now on, and release the leases of holders it supersedes (this host
        identity's predecessor, or a process on this machine that is gone); return the resources released."""
        self._owner = owner
        check = TakeoverCheck(owner)
        with wrapped(LockError, "take over leases"):
            await self._ensure_schema()
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("SELECT resource, token FROM {locks} WHERE expires_at > clock_timestamp()")
                )
                gone = [
                    (str(resource), str(token))
                    for resource, token in await cur.fetchall()
                    if check.gone(token)
                ]
                if gone:
                    await conn.execute(
                        self._layout.q(_RELEASE),
                        (text_array([r for r, _ in gone]), text_array([t for _, t in gone])),
                    )
        return [resource for resource, _ in gone]

    async def stop(self) -> None:
        """Give the pool back once the writes handed over are done. Idempotent; leases stay until they lapse or
        are released."""
        await self._release_pool()

    @functools.cached_property
    def _acquire_sql(self) -> bytes:
        # nextval() takes the sequence as a string: the quoted, schema-qualified name as a literal.
        fence_seq = sql.Literal(self._layout.table("lock_fences").as_string())
        return sql.SQL(_ACQUIRE).format(locks=self._layout.table("locks"), fence_seq=fence_seq).as_bytes(None)

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        """Take the resource for ``ttl``, or return None when anyone (this object included) holds it.

        Acquires asked for together share one statement (group commit)."""
        if not self._schema_ready():
            with wrapped(LockError, "acquire"):
                await self._ensure_schema()
        request = _Acquire(resource, self.lease_token(), ttl.total_seconds())
        fence = await self._acquires.write(request, resource)
        return None if fence is None else Lease(resource=resource, token=request.token, fence=fence)

    @functools.cached_property
    def _acquires(self) -> GroupCommit[_Acquire, int | None]:
        return GroupCommit(self._acquire_batch)

    async def _acquire_batch(self, requests: Sequence[_Acquire]) -> list[int | None | BaseException]:
        with wrapped(LockError, "acquire"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._acquire_sql,
                    (
                        text_array([r.resource for r in requests]),
                        text_array([r.token for r in requests]),
                        number_array([r.ttl for r in requests]),
                    ),
                )
                fences = {row[0]: int(row[1]) for row in await cur.fetchall()}
        return [fences.get(r.resource) for r in requests]

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
        """Give the resource back if this lease still holds it. Idempotent.

        Releases asked for together share one statement (group commit)."""
        await self._releases.write(lease, lease.resource)

    @functools.cached_property
    def _releases(self) -> GroupCommit[Lease, None]:
        return GroupCommit(self._release_batch)

    async def _release_batch(self, leases: Sequence[Lease]) -> list[None | BaseException]:
        with wrapped(LockError, "release"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(_RELEASE),
                    (
                        text_array([lease.resource for lease in leases]),
                        text_array([lease.token for lease in leases]),
                    ),
                )
        return [None] * len(leases)
