"""The worker thread of a :class:`~wfe_sqlite._database.SqliteDatabase`: it owns the one connection, runs the
jobs it is handed in batches (one transaction, one commit each) and hands their results back to the callers'
event loops. The asyncio side, which queues the jobs, is in ``_database``; the two share only the job queue.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wfe_sqlite._schema import migrate
from wfe_sqlite._url import MEMORY, SqliteOptions


@dataclass(slots=True)
class Task:
    """A job handed to the worker: the function and how it runs, the caller's future, and its outcome once run."""

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


class Worker:
    """The worker thread's side: owns the connection, runs batches of jobs, delivers results."""

    def __init__(
        self,
        jobs: queue.SimpleQueue[Task | None],
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
        self._held: list[Task] = []
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

    def _gather(self, batch: list[Task]) -> bool:
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

    def _fail(self, tasks: list[Task], error: Exception) -> None:
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

    def _run_batch(self, connection: sqlite3.Connection, batch: list[Task]) -> None:
        # Standalone jobs (migrations) run alone, in order with the transactional jobs around them.
        group: list[Task] = []
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

    def _run_alone(self, connection: sqlite3.Connection, task: Task) -> None:
        try:
            task.outcome = (True, task.fn(connection))
        except Exception as exc:
            task.outcome = (False, exc)
        self.stats.jobs += 1
        self.stats.transactions += 1
        self._deliver([task])

    def _run_transaction(self, connection: sqlite3.Connection, tasks: list[Task]) -> None:
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
        now: list[Task] = []
        for task in tasks:
            if task.deferred and task.outcome[0]:
                task.delivered = True  # settled: a failure of the batch later on does not change its outcome
                self._held.append(task)
            else:
                now.append(task)
        self._deliver(now)

    def _attempt(
        self, connection: sqlite3.Connection, tasks: list[Task], write: bool, *, savepoints: bool
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
    def _run_task(connection: sqlite3.Connection, task: Task, savepoint: bool) -> None:
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
    def _deliver(tasks: list[Task]) -> None:
        # One wake-up per event loop and batch, not one per task: each wake-up is a write to the loop's pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[Task]] = {}
        for task in tasks:
            task.delivered = True
            by_loop.setdefault(task.future.get_loop(), []).append(task)
        for loop, finished in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, finished)
            except RuntimeError:
                # The caller's event loop has closed; nobody is waiting for these results.
                pass


def _resolve(tasks: list[Task]) -> None:
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
