"""A provider's hold on a shared :class:`SqliteDatabase`; driver errors become the provider's error."""

from __future__ import annotations

import sqlite3

from wfe_core.errors import ProviderError
from wfe_sqlite._database import Job, SqliteDatabase, T


class DatabaseHandle:
    """Retains the database while open; ``run`` wraps ``sqlite3.Error`` in ``error_type``."""

    def __init__(self, database: SqliteDatabase, error_type: type[ProviderError], *, retained: bool) -> None:
        self.database = database
        self._error_type = error_type
        self._held = retained

    def open(self) -> None:
        """Hold the database again after ``close`` (idempotent)."""
        if not self._held:
            self.database.retain()
            self._held = True

    async def close(self) -> None:
        """Let go of the database (idempotent); the last holder closes it."""
        if self._held:
            self._held = False
            await self.database.release()

    async def run(self, fn: Job[T], *, write: bool, action: str, deferred: bool = False) -> T:
        try:
            return await self.database.submit(fn, write=write, deferred=deferred)
        except sqlite3.Error as exc:
            raise self._error_type(
                f"SQLite {self.database.path!r}: {action} failed: {_explain(exc)}"
            ) from exc

    async def migrate(self) -> None:
        try:
            await self.database.migrate()
        except sqlite3.Error as exc:
            raise self._error_type(
                f"SQLite {self.database.path!r}: creating the schema failed: {_explain(exc)}"
            ) from exc


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (
            f"{text} (another process held the write lock longer than busy_timeout: raise busy_timeout, "
            "e.g. sqlite:///wfe.db?busy_timeout=30)"
        )
    return text
