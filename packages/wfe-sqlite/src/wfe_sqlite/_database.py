"""One SQLite database driven by one worker thread, shared by every provider opened on the same URL.

Why a dedicated thread: ``sqlite3`` calls block, and a connection must not be used from two threads at once.
One thread per database owns the one connection; coroutines hand it jobs (plain functions of the connection)
and await the result.

Group commit: the worker takes every job that is waiting when it becomes free and runs them in **one**
transaction, then commits once. While one commit waits for its fsync, new jobs pile up and share the next
commit, so concurrent passes of many workflows cost one fsync per batch instead of one each. A job that raises
is undone alone (the batch is re-run with a savepoint around each job) and the others still commit. A job's
result is delivered only after the commit that made it durable.

Deferred jobs (the writes of workflow passes) overlap the event loop with the disk: their results are handed
back as the next commit begins (or when the worker has nothing else to do), so the passes they wake run while
that commit's fsync is in flight instead of before it; the results of other jobs (a caller's
``start_workflow``) are handed back at once. A batch of deferred jobs alone that follows a caller's job waits
briefly (``linger``) for that caller's next job, so a loop of starts awaited one by one shares each commit with
the passes in flight rather than queueing behind them: one commit per start.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable
from typing import ClassVar, TypeVar

from wfe_sqlite._schema import migrate
from wfe_sqlite._url import MEMORY, SqliteOptions
from wfe_sqlite._wakeups import Wakeups
from wfe_sqlite._worker import DatabaseStats, Task, Worker

T = TypeVar("T")

Job = Callable[[sqlite3.Connection], T]

LINGER = 0.001
"""How long (seconds) a batch of deferred jobs alone waits for a caller's job to share its commit: about what
an event loop takes to hand a commit's result to its caller and take that caller's next call."""


class SqliteDatabase:
    """An open SQLite database: one connection, one worker thread, group commit.

    Obtain one per path with :meth:`shared` (providers do this in ``from_url``) so that persistence, queue
    and lock opened on the same URL in one process use one connection; ``:memory:`` then holds all three.
    Each user calls :meth:`retain` and later :meth:`release`. When the last user releases a file database,
    its connection closes (a later ``retain`` reopens it). An in-memory database keeps its data for as long as
    this object is referenced (a stopped provider can start again and find its items), but a new
    ``shared(":memory:")`` after the last release gets a fresh database.
    """

    _registry: ClassVar[dict[str, SqliteDatabase]] = {}
    _registry_lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(
        self, path: str, options: SqliteOptions | None = None, *, max_batch: int = 512, linger: float = LINGER
    ) -> None:
        self.path = path
        self.options = options or SqliteOptions()
        self.max_batch = max_batch
        self.linger = linger
        self.wakeups = Wakeups()
        self.stats = DatabaseStats()
        self._lock = threading.Lock()
        self._users = 0
        self._jobs: queue.SimpleQueue[Task | None] | None = None
        self._thread: threading.Thread | None = None
        self._registry_key: str | None = None

    # -- sharing -------------------------------------------------------------------------------------------

    @classmethod
    def shared(cls, path: str, options: SqliteOptions | None = None) -> SqliteDatabase:
        """The open database for ``path`` in this process, or a new one; already retained for the caller.

        When the database is already open, ``options`` of the first opener stay in force.
        """
        key = path if path == MEMORY else os.path.abspath(path)
        with cls._registry_lock:
            database = cls._registry.get(key)
            if database is None:
                database = cls(path, options)
                database._registry_key = key
                cls._registry[key] = database
            database.retain()
        return database

    def retain(self) -> None:
        """Count one more user; (re)start the worker thread if it is not running."""
        with SqliteDatabase._registry_lock, self._lock:
            self._users += 1
            key = self._registry_key
            if key is not None and self._users == 1:
                SqliteDatabase._registry.setdefault(key, self)
            if self._thread is None:
                jobs: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
                worker = Worker(jobs, self.path, self.options, self.max_batch, self.linger, self.stats)
                self._jobs = jobs
                self._thread = threading.Thread(
                    target=worker.work, name=f"wfe-sqlite:{self.path}", daemon=True
                )
                self._thread.start()
                # The worker holds no reference to this object, so an unreferenced database (an in-memory
                # one nobody released) is collected and its thread told to stop.
                weakref.finalize(self, jobs.put, None)

    async def release(self) -> None:
        """Count one user less. The last release of a file database closes its connection after the jobs
        already queued; an in-memory database stays open while this object lives."""
        with SqliteDatabase._registry_lock, self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users > 0:
                return
            if self._registry_key is not None and SqliteDatabase._registry.get(self._registry_key) is self:
                del SqliteDatabase._registry[self._registry_key]
            if self.path == MEMORY:
                return
            thread, jobs = self._thread, self._jobs
            self._thread = self._jobs = None
            if jobs is not None:
                jobs.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)

    @property
    def is_open(self) -> bool:
        """True while the worker thread runs (jobs can be submitted)."""
        return self._thread is not None

    # -- running jobs --------------------------------------------------------------------------------------

    async def run(self, fn: Job[T], *, write: bool) -> T:
        """Run ``fn(connection)`` in a transaction on the worker thread and return its result once committed.

        ``write`` jobs take the write lock (``BEGIN IMMEDIATE``); read-only jobs must not write. ``sqlite3``
        errors are raised as they are (providers wrap them); so is anything ``fn`` raises, after its changes
        were rolled back.
        """
        return await self.submit(fn, write=write)

    def submit(self, fn: Job[T], *, write: bool, deferred: bool = False) -> asyncio.Future[T]:
        """What :meth:`run` awaits: ``fn`` handed to the worker thread now, and the future of its outcome.

        Awaiting the future directly saves a coroutine per call on the paths every pass takes. Cancelling it
        does not withdraw the job. Raises ``sqlite3.ProgrammingError`` when the database is closed.

        A ``deferred`` job's result may be handed back later than its commit: when the worker begins its next
        commit, or when it has nothing left to do, whichever comes first (see ``_worker.Worker``)."""
        return self._submit(fn, write, False, deferred)

    async def run_standalone(self, fn: Job[T]) -> T:
        """Run ``fn`` alone in autocommit mode: it manages its own transaction (used for migrations)."""
        return await self._submit(fn, True, True)

    async def migrate(self) -> int:
        """Apply pending schema migrations; return the version found. Idempotent and safe across processes."""
        return await self.run_standalone(migrate)

    def _submit(self, fn: Job[T], write: bool, standalone: bool, deferred: bool = False) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._jobs is None:
                raise sqlite3.ProgrammingError(
                    f"the SQLite database {self.path!r} is closed: "
                    "open the provider again (from_url) or call start()"
                )
            self._jobs.put(Task(fn, write, standalone, future, deferred))
        return future
