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
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from wfe_sqlite._schema import migrate
from wfe_sqlite._url import MEMORY, SqliteOptions
from wfe_sqlite._wakeups import Wakeups

T = TypeVar("T")

Job = Callable[[sqlite3.Connection], T]

LINGER = 0.001
"""How long (seconds) a batch of deferred jobs alone waits for a caller's job to share its commit: about what
an event loop takes to hand a commit's result to its caller and take that caller's next call."""


@dataclass(slots=True)
class _Task:
    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    standalone: bool
    future: asyncio.Future[Any]
    deferred: bool = False
    outcome: tuple[bool, Any] = field(default=(False, None))
    delivered: bool = False


@dataclass(slots=True)
class DatabaseStats:
    """Counters for benchmarks and tests: how many jobs ran and how many transactions they needed."""

    jobs: int = 0
    transactions: int = 0
    write_transactions: int = 0


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
        self._jobs: queue.SimpleQueue[_Task | None] | None = None
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
                jobs: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
                worker = _Worker(jobs, self.path, self.options, self.max_batch, self.linger, self.stats)
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
        commit, or when it has nothing left to do, whichever comes first (see ``_Worker``)."""
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
            self._jobs.put(_Task(fn, write, standalone, future, deferred))
        return future


class _Worker:
    """The worker thread's side: owns the connection, runs batches of jobs, delivers results."""

    def __init__(
        self,
        jobs: queue.SimpleQueue[_Task | None],
        path: str,
        options: SqliteOptions,
        max_batch: int,
        linger: float,
        stats: DatabaseStats,
    ) -> None:
        self.jobs = jobs
        self.path = path
        self.options = options
        self.max_batch = max_batch
        self.linger = linger
        self.stats = stats
        self._held: list[_Task] = []
        """Deferred jobs committed, their results not handed back yet."""
        self._linger = False
        """Whether the next batch, if it holds deferred jobs alone, waits for another job: the last batch had a
        job that was not deferred, and jobs were queued by the time it committed."""

    def work(self) -> None:
        jobs = self.jobs
        connection, open_error = self._open()
        stopping = False
        while not stopping:
            try:
                first = jobs.get_nowait()
            except queue.Empty:
                self._hand_back_held()  # nothing else to do: no reason to hold them any longer
                first = jobs.get()
            if first is None:
                break
            batch = [first]
            stopping = self._gather(batch)
            if connection is None:
                # Opening failed before (the file locked past busy_timeout, an unwritable directory ...): try
                # again, so a passing problem does not break the provider for good.
                connection, open_error = self._open()
            if connection is None:
                self._fail(batch, open_error or sqlite3.OperationalError("the database could not be opened"))
                continue
            try:
                self._run_batch(connection, batch)
            except Exception as exc:
                # Nothing may end this thread early: every later call would wait for it forever.
                self._fail(batch, exc)
        self._hand_back_held()
        if connection is not None:
            connection.close()

    def _gather(self, batch: list[_Task]) -> bool:
        """Add the jobs waiting now to ``batch``; True when the stop marker was among them.

        Deferred jobs alone, queued before a batch that had a caller's job committed (passes that its deferred
        results woke), wait up to ``linger`` for a job that is not deferred: a caller awaiting one write after
        another (a loop of starts) sends its next as soon as the last result reaches it, and that write then
        shares this commit instead of waiting behind it. A deferred job sent after that commit (the first pass
        of a workflow started alone) does not wait.
        """
        jobs = self.jobs
        linger = self._linger and all(task.deferred for task in batch)
        deadline = time.monotonic() + self.linger if linger else 0.0
        while len(batch) < self.max_batch:
            try:
                task = jobs.get_nowait()
            except queue.Empty:
                if not linger:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    task = jobs.get(timeout=left)
                except queue.Empty:
                    break
            if task is None:
                return True
            batch.append(task)
            if linger and not task.deferred:
                linger = False
        return False

    def _open(self) -> tuple[sqlite3.Connection | None, Exception | None]:
        connection: sqlite3.Connection | None = None
        try:
            connection = self._connect()
            migrate(connection)
        except Exception as exc:
            if connection is not None:
                connection.close()
            return None, exc
        return connection, None

    def _fail(self, tasks: list[_Task], error: Exception) -> None:
        pending = [task for task in tasks if not task.delivered]
        for task in pending:
            task.outcome = (False, error)
        self._deliver(pending)

    def _connect(self) -> sqlite3.Connection:
        if self.path != MEMORY:
            _create_private(self.path)
        # isolation_level=None: autocommit, so transactions are exactly the BEGIN/COMMIT issued here.
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self.options.busy_timeout
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.options.busy_timeout * 1000)}")
            if self.path != MEMORY:
                # Can fail while another connection holds the file ("database is locked"): _open tries again.
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self.options.synchronous}")
            connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        return connection

    def _run_batch(self, connection: sqlite3.Connection, batch: list[_Task]) -> None:
        # Standalone jobs (migrations) run alone, in order with the transactional jobs around them.
        group: list[_Task] = []
        for task in batch:
            if task.standalone:
                if group:
                    self._run_transaction(connection, group)
                    group = []
                self._run_alone(connection, task)
            else:
                group.append(task)
        if group:
            self._run_transaction(connection, group)

    def _run_alone(self, connection: sqlite3.Connection, task: _Task) -> None:
        try:
            task.outcome = (True, task.fn(connection))
        except Exception as exc:
            task.outcome = (False, exc)
        self.stats.jobs += 1
        self.stats.transactions += 1
        self._deliver([task])

    def _run_transaction(self, connection: sqlite3.Connection, tasks: list[_Task]) -> None:
        write = any(task.write for task in tasks)
        try:
            # Optimistic first: no savepoints, as failing jobs are rare and every statement costs a round of
            # the GIL. When a job fails, the whole transaction is rolled back and the batch runs again with a
            # savepoint around each job, so only the failing job's changes are undone.
            if not self._attempt(connection, tasks, write, savepoints=False) and len(tasks) > 1:
                self._attempt(connection, tasks, write, savepoints=True)
        except sqlite3.Error as exc:
            # The transaction as a whole failed (lock timeout, disk full, I/O error): nothing of it was kept.
            self._hand_back_held()
            for task in tasks:
                task.outcome = (False, exc)
        self.stats.jobs += len(tasks)
        self.stats.transactions += 1
        self.stats.write_transactions += int(write)
        # read before any result is handed back: what is queued now was sent while this batch ran
        self._linger = any(not task.deferred for task in tasks) and not self.jobs.empty()
        # Deferred jobs that committed are handed back when the next commit begins or the worker goes idle,
        # so their callers (the passes of running workflows) run while that commit is written, and a caller
        # waiting on a job of its own here is answered first.
        now: list[_Task] = []
        for task in tasks:
            if task.deferred and task.outcome[0]:
                task.delivered = True  # settled: a failure of the batch later on does not change its outcome
                self._held.append(task)
            else:
                now.append(task)
        self._deliver(now)

    def _attempt(
        self, connection: sqlite3.Connection, tasks: list[_Task], write: bool, *, savepoints: bool
    ) -> bool:
        """Run ``tasks`` in one transaction. Returns False, with everything rolled back, when a task failed and
        there were no savepoints to undo it alone; True once committed."""
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            for task in tasks:
                self._run_task(connection, task, savepoints)
                if not savepoints and not task.outcome[0]:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    return False
            self._hand_back_held()  # committed earlier: their callers run while this commit is written
            connection.execute("COMMIT")
            return True
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    @staticmethod
    def _run_task(connection: sqlite3.Connection, task: _Task, savepoint: bool) -> None:
        if savepoint:
            connection.execute("SAVEPOINT job")
        try:
            result = task.fn(connection)
        except Exception as exc:
            task.outcome = (False, exc)
            if savepoint:
                # Raises (and so fails the whole batch) only when the transaction itself is broken.
                connection.execute("ROLLBACK TO job")
                connection.execute("RELEASE job")
            return
        task.outcome = (True, result)
        if savepoint:
            connection.execute("RELEASE job")

    def _hand_back_held(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self._deliver(held)

    @staticmethod
    def _deliver(tasks: list[_Task]) -> None:
        # One wake-up per event loop and batch, not one per task: each wake-up is a write to the loop's pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Task]] = {}
        for task in tasks:
            task.delivered = True
            by_loop.setdefault(task.future.get_loop(), []).append(task)
        for loop, finished in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, finished)
            except RuntimeError:
                # The caller's event loop has closed; nobody is waiting for these results.
                pass


def _resolve(tasks: list[_Task]) -> None:
    for task in tasks:
        if task.future.done():
            continue
        ok, value = task.outcome
        if ok:
            task.future.set_result(value)
        else:
            task.future.set_exception(value)


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only (0600), unless it exists: it holds all workflow
    data and step output. SQLite gives its -wal and -shm files the database file's permissions."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
