"""The shared database: one connection per URL, group commit, migrations, durability, several processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from wfe_core.errors import LeaseLostError, LockError, PersistenceError, QueueError
from wfe_core.models import ExecutionPointer, QueueType, WorkflowInstance
from wfe_sqlite import (
    SCHEMA_VERSION,
    SqliteDatabase,
    SqliteLock,
    SqlitePersistence,
    SqliteQueue,
    SqliteSearchIndex,
)
from wfe_sqlite._schema import MIGRATIONS, migrate

TABLES = {
    "workflows",
    "execution_pointers",
    "events",
    "event_subscriptions",
    "execution_errors",
    "scheduled_commands",
    "definition_sequences",
    "queue_items",
    "locks",
    "search_documents",
    "search_text",
    "store_settings",
    "schema_version",
}


def instance(definition_id: str = "orders", pointers: int = 1) -> WorkflowInstance:
    return WorkflowInstance(
        workflow_definition_id=definition_id,
        version=1,
        create_time=datetime.now(UTC),
        execution_pointers=[ExecutionPointer(step_id=i) for i in range(pointers)],
    )


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_providers_on_one_url_share_one_database(tmp_path: Path) -> None:
    url = url_of(tmp_path / "wfe.db")
    persistence, queue, lock = (
        SqlitePersistence.from_url(url),
        SqliteQueue.from_url(url),
        SqliteLock.from_url(url),
    )
    try:
        assert persistence.database is queue.database is lock.database
        other = SqlitePersistence.from_url(url_of(tmp_path / "other.db"))
        assert other.database is not persistence.database
        await other.close()
    finally:
        await persistence.close()
        await queue.stop()
        await lock.stop()
    assert not persistence.database.is_open


async def test_memory_url_holds_persistence_queue_and_lock_together() -> None:
    persistence = SqlitePersistence.from_url("sqlite://:memory:")
    queue = SqliteQueue.from_url("sqlite:///:memory:")
    lock = SqliteLock.from_url("sqlite://:memory:")
    await persistence.ensure_store_exists()
    await queue.start()
    await lock.start()
    created = instance()
    await persistence.create_workflow(created)
    await queue.enqueue(QueueType.WORKFLOW, created.id)
    assert await lock.acquire(created.id, timedelta(seconds=30)) is not None

    def counts(conn: sqlite3.Connection) -> tuple[int, ...]:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("workflows", "queue_items", "locks")
        )

    assert await persistence.database.run(counts, write=False) == (1, 1, 1)
    await persistence.close()
    await queue.stop()
    await lock.stop()
    fresh = SqlitePersistence.from_url("sqlite://:memory:")
    assert fresh.database is not persistence.database
    assert await fresh.list_workflows() == []
    await fresh.close()


async def test_data_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    url = url_of(tmp_path / "wfe.db")
    persistence = SqlitePersistence.from_url(url)
    await persistence.ensure_store_exists()
    created = instance(pointers=3)
    created.data = {"answer": 42}
    await persistence.create_workflow(created)
    queue = SqliteQueue.from_url(url)
    await queue.enqueue(QueueType.EVENT, "event-1")
    await queue.stop()
    await persistence.close()
    assert not persistence.database.is_open

    reopened = SqlitePersistence.from_url(url)
    assert reopened.database is not persistence.database
    assert await reopened.get_workflow(created.id) == created
    queue = SqliteQueue.from_url(url)
    item = await queue.dequeue(QueueType.EVENT, timeout=1.0)
    assert item is not None and item.item_id == "event-1"
    await queue.stop()
    await reopened.close()


async def test_schema_is_versioned_wal_and_full_synchronous_by_default(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(url_of(tmp_path / "wfe.db"))
    await persistence.ensure_store_exists()
    await persistence.ensure_store_exists()

    def inspect(conn: sqlite3.Connection) -> tuple[set[str], list[int], str, int]:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        (journal,) = conn.execute("PRAGMA journal_mode").fetchone()
        (synchronous,) = conn.execute("PRAGMA synchronous").fetchone()
        return tables, versions, journal, synchronous

    tables, versions, journal, synchronous = await persistence.database.run(inspect, write=False)
    assert TABLES <= tables
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert journal == "wal"
    assert synchronous == 2  # FULL
    await persistence.close()


async def test_synchronous_normal_is_an_option(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(url_of(tmp_path / "wfe.db") + "?synchronous=NORMAL")
    (level,) = await persistence.database.run(
        lambda c: c.execute("PRAGMA synchronous").fetchone(), write=False
    )
    assert level == 1
    await persistence.close()


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "wfe.db", isolation_level=None)
    assert migrate(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_errors_stored_before_the_step_columns_still_load(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, statements in enumerate(
        MIGRATIONS[:3], start=1
    ):  # a store written by wfe-sqlite before them
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    conn.execute(
        "INSERT INTO execution_errors (workflow_id, execution_pointer_id, error_time, message) "
        "VALUES ('w1', 'p1', 1700000000000000, 'RuntimeError: old')"
    )
    conn.close()
    persistence = SqlitePersistence.from_url(url_of(path))
    await persistence.ensure_store_exists()
    [error] = await persistence.get_errors("w1")
    assert (error.message, error.execution_pointer_id, error.step_name, error.traceback) == (
        "RuntimeError: old",
        "p1",
        None,
        None,
    )
    await persistence.close()


async def test_a_schema_newer_than_this_package_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    persistence = SqlitePersistence.from_url(url_of(path))
    with pytest.raises(PersistenceError, match="upgrade wfe-sqlite"):
        await persistence.ensure_store_exists()
    await persistence.close()


def test_processes_migrating_one_file_at_once_apply_each_version_once(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    script = textwrap.dedent(
        f"""
        import asyncio
        from wfe_sqlite import SqlitePersistence
        async def main():
            p = SqlitePersistence.from_url({url_of(path)!r})
            await p.ensure_store_exists()
            await p.close()
        asyncio.run(main())
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0, 0]
    conn = sqlite3.connect(path)
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    conn.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


async def test_two_processes_write_one_file_concurrently(tmp_path: Path) -> None:
    url = url_of(tmp_path / "wfe.db")
    script = textwrap.dedent(
        f"""
        import asyncio
        from datetime import UTC, datetime
        from wfe_core.models import QueueType, WorkflowInstance
        from wfe_sqlite import SqlitePersistence, SqliteQueue
        async def main():
            p = SqlitePersistence.from_url({url!r})
            q = SqliteQueue.from_url({url!r})
            async def one():
                now = datetime.now(UTC)
                w = WorkflowInstance(workflow_definition_id="shared", version=1, create_time=now)
                await p.create_workflow(w)
                await q.enqueue(QueueType.WORKFLOW, w.id)
            await asyncio.gather(*(one() for _ in range(100)))
            await q.stop()
            await p.close()
        asyncio.run(main())
        """
    )
    here = SqlitePersistence.from_url(url)
    await here.ensure_store_exists()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    await asyncio.gather(*(here.create_workflow(instance("shared")) for _ in range(100)))
    assert await asyncio.wait_for(child.wait(), timeout=60) == 0
    listed = await here.list_workflows(definition_id="shared", take=1000)
    assert len(listed) == 200
    # Names are unique across processes: the sequence is counted inside each write transaction.
    assert len({w.name for w in listed}) == 200
    queue = SqliteQueue.from_url(url)
    taken = []
    while (item := await queue.dequeue(QueueType.WORKFLOW, timeout=0)) is not None:
        taken.append(item.item_id)
    assert len(taken) == 100
    await queue.stop()
    await here.close()


async def test_concurrent_calls_share_commits(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(url_of(tmp_path / "wfe.db"))
    await persistence.ensure_store_exists()
    created = [instance() for _ in range(200)]
    for one in created:
        await persistence.create_workflow(one)
    before = persistence.database.stats.transactions
    await asyncio.gather(*(persistence.persist_workflow(one) for one in created))
    transactions = persistence.database.stats.transactions - before
    assert transactions < 100, f"{transactions} transactions for 200 concurrent persists"
    await persistence.close()


async def test_a_failing_call_in_a_shared_commit_does_not_undo_the_others(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(url_of(tmp_path / "wfe.db"))
    await persistence.ensure_store_exists()
    stale = instance()
    await persistence.create_workflow(stale)
    await persistence.persist_workflow(stale, fence=10)
    others = [instance() for _ in range(20)]
    for one in others:
        await persistence.create_workflow(one)
        one.description = "written"
    stale.description = "must not be written"
    results = await asyncio.gather(
        *(persistence.persist_workflow(one) for one in others[:10]),
        persistence.persist_workflow(stale, fence=9),
        *(persistence.persist_workflow(one) for one in others[10:]),
        return_exceptions=True,
    )
    assert isinstance(results[10], LeaseLostError)
    assert [r for i, r in enumerate(results) if i != 10] == [[]] * 20
    assert (await persistence.get_workflow(stale.id)).description is None
    assert {w.description for w in await persistence.get_workflows([o.id for o in others])} == {"written"}
    await persistence.close()


async def test_driver_errors_are_wrapped_in_the_providers_error(tmp_path: Path) -> None:
    url = url_of(tmp_path / "wfe.db")
    persistence = SqlitePersistence.from_url(url)
    duplicate = instance()
    await persistence.create_workflow(duplicate)
    with pytest.raises(PersistenceError) as caught:
        await persistence.create_workflow(duplicate.model_copy(update={"name": ""}))
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    queue, lock = SqliteQueue.from_url(url), SqliteLock.from_url(url)
    await queue.stop()
    await lock.stop()
    await persistence.close()
    with pytest.raises(PersistenceError, match="closed"):
        await persistence.get_workflow(duplicate.id)
    with pytest.raises(QueueError, match="closed"):
        await queue.enqueue(QueueType.WORKFLOW, "x")
    with pytest.raises(LockError, match="closed"):
        await lock.acquire("x", timedelta(seconds=1))


async def test_a_busy_file_reports_how_to_raise_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    persistence = SqlitePersistence.from_url(url_of(path), busy_timeout=0.2)
    await persistence.ensure_store_exists()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(PersistenceError, match="busy_timeout"):
            await persistence.create_workflow(instance())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await persistence.create_workflow(instance())
    await persistence.close()


def test_entry_points_name_the_sqlite_providers() -> None:
    for group, provider in (
        ("wfe.persistence", SqlitePersistence),
        ("wfe.lock", SqliteLock),
        ("wfe.queue", SqliteQueue),
        ("wfe.search", SqliteSearchIndex),
    ):
        (entry,) = [e for e in entry_points(group=group) if e.name == "sqlite"]
        assert entry.load() is provider


async def test_a_directly_built_database_is_usable_and_closes_with_its_last_user(tmp_path: Path) -> None:
    database = SqliteDatabase(str(tmp_path / "direct.db"))
    persistence = SqlitePersistence(database)
    lock = SqliteLock(database)
    await persistence.ensure_store_exists()
    await persistence.create_workflow(instance())
    await persistence.close()
    assert database.is_open
    await lock.stop()
    assert not database.is_open


async def test_a_file_locked_while_it_is_opened_works_once_the_lock_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA journal_mode = WAL")
    blocker.execute("BEGIN IMMEDIATE")
    persistence = SqlitePersistence.from_url(url_of(path), busy_timeout=0.2)
    try:
        with pytest.raises(PersistenceError, match="busy_timeout"):
            await persistence.create_workflow(instance())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    created = instance()
    await persistence.create_workflow(created)
    assert (await persistence.get_workflow(created.id)).id == created.id
    await persistence.close()


async def test_the_lock_family_is_recorded_once(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(f"sqlite:///{tmp_path}/family.db")
    await persistence.ensure_store_exists()
    try:
        assert await persistence.record_lock_family("wfe_sqlite") == "wfe_sqlite"
        assert await persistence.record_lock_family("wfe_valkey") == "wfe_sqlite"
    finally:
        await persistence.close()


class HeldOpen:
    """A job that keeps its batch open until ``release.set()``; ``started()`` waits until it runs."""

    def __init__(self, result: str) -> None:
        self.result = result
        self.running, self.release = threading.Event(), threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> str:
        self.running.set()
        self.release.wait(30)
        return self.result

    async def started(self) -> None:
        assert await asyncio.to_thread(self.running.wait, 30)


async def test_a_deferred_result_is_handed_back_as_the_next_commit_begins(tmp_path: Path) -> None:
    database = SqliteDatabase(str(tmp_path / "deferred.db"))
    database.retain()
    held = HeldOpen("deferred")
    deferred = database.submit(held, write=True, deferred=True)
    await held.started()
    seen: list[bool] = []
    # queued while the deferred job's batch runs: the next batch
    urgent = database.submit(lambda conn: seen.append(deferred.done()) or "urgent", write=True)
    order: list[str] = []
    deferred.add_done_callback(lambda f: order.append(f.result()))
    urgent.add_done_callback(lambda f: order.append(f.result()))
    held.release.set()
    assert await urgent == "urgent"
    assert seen == [False]  # committed, but not handed back while the next batch's jobs ran
    assert order == ["deferred", "urgent"]  # handed back as that batch began its commit
    await database.release()


async def test_deferred_jobs_alone_wait_for_a_callers_next_job_to_share_its_commit(tmp_path: Path) -> None:
    database = SqliteDatabase(str(tmp_path / "linger.db"), linger=30.0)
    database.retain()
    held = HeldOpen("first")
    first = database.submit(held, write=True)
    await held.started()
    deferred = database.submit(lambda conn: "pass", write=True, deferred=True)
    before = database.stats.transactions
    held.release.set()
    assert await first == "first"
    # the caller's next job, sent once the last result reached it: it joins the deferred job's commit
    assert await database.submit(lambda conn: "next", write=True) == "next"
    assert await deferred == "pass"
    assert database.stats.transactions - before == 2
    await database.release()


async def test_a_deferred_job_sent_to_an_idle_worker_does_not_wait(tmp_path: Path) -> None:
    database = SqliteDatabase(str(tmp_path / "idle.db"), linger=30.0)
    database.retain()
    assert await database.submit(lambda conn: 1, write=True) == 1
    # sent after the caller's commit came back (the first pass of a workflow started alone): no linger
    assert await asyncio.wait_for(database.submit(lambda conn: 2, write=True, deferred=True), 10) == 2
    await database.release()
