"""wfe-sqlite: persistence, queue, lock and search index for wfe on SQLite, the embedded single-node default.

Open each with ``from_url("sqlite:///wfe.db")`` (or ``sqlite:////abs/path.db``, ``sqlite://:memory:``);
providers opened on the same URL in one process share one :class:`SqliteDatabase` (one connection, one
worker thread).
"""

from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._lock import SqliteLock
from wfe_sqlite._persistence import SqlitePersistence
from wfe_sqlite._queue import SqliteQueue
from wfe_sqlite._schema import SCHEMA_VERSION
from wfe_sqlite._search import SqliteSearchIndex
from wfe_sqlite._url import SqliteOptions, parse_sqlite_url
from wfe_sqlite._worker import DatabaseStats

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseStats",
    "SqliteDatabase",
    "SqliteLock",
    "SqliteOptions",
    "SqlitePersistence",
    "SqliteQueue",
    "SqliteSearchIndex",
    "parse_sqlite_url",
]
