"""SqliteLock: leases on named resources, kept in a SQLite table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from wfe_core.clock import SystemClock
from wfe_core.errors import LockError
from wfe_core.lease_owner import LeaseOwner, TakeoverCheck
from wfe_core.models import Lease
from wfe_core.protocols import Clock
from wfe_sqlite._codec import to_micros
from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._handle import DatabaseHandle
from wfe_sqlite._url import parse_sqlite_url


class SqliteLock:
    """Leases as rows ``(resource, token, fence, expires_at)``, changed by compare-and-set in a transaction.

    Processes sharing the file share the locks. The fence of a resource is a counter in its row that only
    grows (release clears the token, never the fence), so every acquisition gets a larger fence than all
    before it, across restarts too. Expiry uses ``clock`` (wall-clock UTC by default), which every process on
    the file must agree on.
    """

    def __init__(
        self, database: SqliteDatabase, *, clock: Clock | None = None, retained: bool = False
    ) -> None:
        if not retained:
            database.retain()
        self._handle = DatabaseHandle(database, LockError, retained=True)
        self._clock: Clock = clock or SystemClock()
        self._owner = LeaseOwner.of_this_process()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqliteLock:
        """Open the lock provider on a ``sqlite:`` URL (see ``SqlitePersistence.from_url``).

        Options: ``clock`` (a ``Clock``; wall-clock time by default), plus the connection options
        ``synchronous`` and ``busy_timeout``.
        """
        clock = options.pop("clock", None)
        path, sqlite_options, _ = parse_sqlite_url(url, **options)
        return cls(SqliteDatabase.shared(path, sqlite_options), clock=clock, retained=True)

    @property
    def database(self) -> SqliteDatabase:
        return self._handle.database

    async def start(self) -> None:
        self._handle.open()
        await self._handle.migrate()

    async def stop(self) -> None:
        await self._handle.close()

    def _expiry(self, ttl: timedelta) -> tuple[int, int]:
        now = to_micros(self._clock.now())
        return now, now + max(0, int(ttl.total_seconds() * 1_000_000))

    async def acquire(self, resource: str, ttl: timedelta) -> Lease | None:
        token, acquire = self.acquire_job(resource, ttl)
        fence: int | None = await self._handle.run(acquire, write=True, action=f"acquire lock {resource!r}")
        return None if fence is None else Lease(resource=resource, token=token, fence=fence)

    def acquire_job(
        self, resource: str, ttl: timedelta
    ) -> tuple[str, Callable[[sqlite3.Connection], int | None]]:
        """The lease's token and the job that takes it (its fence, or None when the resource is held): what
        ``acquire`` runs, for a caller writing it in a transaction of its own (``create_workflow_leased``)."""
        now, expires_at = self._expiry(ttl)
        token = self._owner.token()

        def acquire(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "INSERT INTO locks (resource, token, fence, expires_at) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (resource) DO UPDATE SET token = excluded.token, fence = fence + 1, "
                "expires_at = excluded.expires_at WHERE token IS NULL OR expires_at <= ? RETURNING fence",
                (resource, token, expires_at, now),
            ).fetchone()
            return None if row is None else int(row[0])

        return token, acquire

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        now, expires_at = self._expiry(ttl)
        params = (expires_at, lease.resource, lease.token, now)

        def renew(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE locks SET expires_at = ? WHERE resource = ? AND token = ? AND expires_at > ?", params
            )
            return bool(cursor.rowcount == 1)

        try:
            renewed = await self._handle.run(renew, write=True, action=f"renew lock {lease.resource!r}")
        except LockError:
            # The contract: a lease that cannot be confirmed is treated as lost.
            return None
        return lease if renewed else None

    async def release(self, lease: Lease) -> None:
        await self._handle.run(self.release_job(lease), write=True, action=f"release lock {lease.resource!r}")

    @staticmethod
    def release_job(lease: Lease) -> Callable[[sqlite3.Connection], object]:
        """The job that releases ``lease`` if it still holds its resource: what ``release`` runs, for a caller
        writing it in a transaction of its own (``persist_workflow_released``)."""
        params = (lease.resource, lease.token)
        return lambda conn: conn.execute(
            "UPDATE locks SET token = NULL, expires_at = NULL WHERE resource = ? AND token = ?", params
        )

    async def take_over(self, owner: LeaseOwner) -> list[str]:
        """Hold leases as ``owner`` from now on, and release the leases of holders it supersedes (a process on
        this machine that is gone, or this host identity's predecessor); return the resources released."""
        self._owner = owner
        now = to_micros(self._clock.now())
        check = TakeoverCheck(owner)

        def take_over(conn: sqlite3.Connection) -> list[str]:
            held = conn.execute(
                "SELECT resource, token FROM locks WHERE token IS NOT NULL AND expires_at > ?", (now,)
            ).fetchall()
            released = []
            for resource, token in held:
                if check.gone(token):
                    conn.execute(
                        "UPDATE locks SET token = NULL, expires_at = NULL WHERE resource = ? AND token = ?",
                        (resource, token),
                    )
                    released.append(str(resource))
            return released

        released: list[str] = await self._handle.run(take_over, write=True, action="take over leases")
        return released
