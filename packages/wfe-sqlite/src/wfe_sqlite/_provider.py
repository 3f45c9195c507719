"""What the parts of ``SqlitePersistence`` share: the database handle, and running a job on it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from wfe_sqlite._handle import DatabaseHandle


class _SqliteProvider:
    """The base of each part of ``SqlitePersistence``: every call is one job on the database's thread."""

    _handle: DatabaseHandle

    async def _read(self, fn: Callable[[sqlite3.Connection], Any], action: str) -> Any:
        return await self._handle.run(fn, write=False, action=action)

    async def _write(
        self, fn: Callable[[sqlite3.Connection], Any], action: str, *, deferred: bool = False
    ) -> Any:
        return await self._handle.run(fn, write=True, action=action, deferred=deferred)
