"""PostgreSQL persistence, queue and lock for wfe: many hosts on one database.

    persistence = PostgresPersistence.from_url("postgresql://wfe:secret@db/wfe", schema="wfe")
    queue = PostgresQueue.from_url("postgresql://wfe:secret@db/wfe", visibility_timeout=300)
    lock = PostgresLock.from_url("postgresql://wfe:secret@db/wfe")

Providers built from one URL in one event loop share one connection pool. Every table is qualified with the
schema, so a pool shared with the application (``from_pool``) keeps its ``search_path``.
"""

from wfe_postgres.lock import PostgresLock
from wfe_postgres.persistence import PostgresPersistence
from wfe_postgres.queue import PostgresQueue

__all__ = ["PostgresLock", "PostgresPersistence", "PostgresQueue"]
