"""Three host processes on one PostgreSQL database; one is killed and another frozen past its lease.

The hosts run 300 workflows (parallel branches, a durable delay, an event the test publishes). Mid-run one host
gets SIGKILL; then another gets SIGSTOP while steps of its are running, stays frozen well past its lease, and gets
SIGCONT. Triggers record every write of a workflow row (with its fence and the writing host's
``application_name``) and every lease taken, in one sequence, so the test can prove that no host wrote an instance
after another host had taken its lease over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from wfe_core.models import Event, PointerStatus, QueueType, WorkflowStatus
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

from .freeze_host import EVENT_NAME, RECORDED_STEPS, create_runs_table, runs_table, with_query

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]

HOSTS = ("steady", "doomed", "frozen")
WORKFLOWS_PER_HOST = 100
FREEZE_SECONDS = 7.0
"""Well past the 2 s lease: the other hosts take over the frozen host's instances and persist their passes."""

AUDIT = """
CREATE TABLE {audit} (
    seq bigserial PRIMARY KEY,
    kind text NOT NULL,
    resource text,
    fence bigint,
    host text,
    old_status text,
    new_status text
);
CREATE FUNCTION {audit_write}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {audit} (kind, resource, fence, host, old_status, new_status)
    VALUES (CASE WHEN TG_OP = 'INSERT' THEN 'create' ELSE 'write' END, NEW.id, NEW.fence,
            current_setting('application_name'), OLD.status, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER audit_write AFTER INSERT OR UPDATE ON {workflows}
    FOR EACH ROW EXECUTE FUNCTION {audit_write}();
CREATE FUNCTION {audit_lease}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.fence <> OLD.fence THEN
        INSERT INTO {audit} (kind, resource, fence, host)
        VALUES ('lease', NEW.resource, NEW.fence, current_setting('application_name'));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_lease AFTER INSERT OR UPDATE ON {locks}
    FOR EACH ROW EXECUTE FUNCTION {audit_lease}();
"""


@dataclass
class Run:
    """A row of the step-run record (see ``freeze_host``)."""

    key: str
    workflow_id: str
    step: str
    host: str
    phase: str
    began: float
    at: float


@dataclass
class Audit:
    seq: int
    kind: str
    resource: str | None
    fence: int | None
    host: str | None
    old_status: str | None
    new_status: str | None


class Db:
    """The test's own connection to the database, for setup, watching and the final checks."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    async def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        cur = await self.conn.execute(
            sql.SQL(query).format(
                runs=runs_table(self.schema),
                audit=self.table("audit"),
                workflows=self.table("workflows"),
                subscriptions=self.table("event_subscriptions"),
            ),
            params,
        )
        return list(await cur.fetchall())

    async def count(self, query: str, *params: object) -> int:
        return int((await self.rows(query, *params))[0][0])

    async def mark(self, kind: str) -> int:
        """A marker in the audit sequence: what was written before and after it."""
        return int((await self.rows("INSERT INTO {audit} (kind) VALUES (%s) RETURNING seq", kind))[0][0])

    async def in_flight(self, host: str) -> set[str]:
        """Idempotency keys of the steps ``host`` has started but not finished."""
        rows = await self.rows(
            "SELECT idempotency_key FROM {runs} WHERE host = %s GROUP BY idempotency_key"
            " HAVING count(*) FILTER (WHERE phase = 'start') > count(*) FILTER (WHERE phase = 'end')",
            host,
        )
        return {str(r[0]) for r in rows}

    async def finished_steps(self) -> int:
        return await self.count("SELECT count(*) FROM {runs} WHERE phase = 'end'")


async def prepare(pg_url: str, schema: str) -> None:
    """Tables of the providers, the step-run record and the audit triggers, before any host starts."""
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    lock = PostgresLock.from_url(pg_url, schema=schema)
    queue = PostgresQueue.from_url(pg_url, schema=schema)
    try:
        await store.ensure_store_exists()
        await lock.start()
        await queue.start()
    finally:
        await store.close()
        await lock.stop()
        await queue.stop()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(create_runs_table(schema))
        await conn.execute(
            sql.SQL(AUDIT).format(
                audit=sql.Identifier(schema, "audit"),
                audit_write=sql.Identifier(schema, "audit_write"),
                audit_lease=sql.Identifier(schema, "audit_lease"),
                workflows=sql.Identifier(schema, "workflows"),
                locks=sql.Identifier(schema, "locks"),
            )
        )


@dataclass
class HostProcess:
    name: str
    proc: asyncio.subprocess.Process
    log: Path


async def spawn(pg_url: str, schema: str, name: str, log_dir: Path) -> HostProcess:
    log = log_dir / f"{name}.log"
    config = {"pg_url": pg_url, "schema": schema, "name": name, "start": WORKFLOWS_PER_HOST, "log": str(log)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("freeze_host.py")),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
    )
    return HostProcess(name, proc, log)


async def started_ids(host: HostProcess) -> list[str]:
    """The ids a host started, read from its stdout up to its ``ready`` line."""
    assert host.proc.stdout is not None
    ids: list[str] = []
    while True:
        line = await asyncio.wait_for(host.proc.stdout.readline(), timeout=60)
        assert line, f"host {host.name} exited before it was ready (see {host.log})"
        message = json.loads(line)
        if "ready" in message:
            return ids
        ids.append(message["started"])


@contextlib.asynccontextmanager
async def host_processes(pg_url: str, schema: str, log_dir: Path) -> AsyncIterator[dict[str, HostProcess]]:
    hosts = {name: await spawn(pg_url, schema, name, log_dir) for name in HOSTS}
    try:
        yield hosts
    finally:
        for host in hosts.values():
            if host.proc.returncode is None:
                # a stopped process ignores SIGTERM until it is continued
                host.proc.send_signal(signal.SIGCONT)
                host.proc.send_signal(signal.SIGTERM)
        for host in hosts.values():
            try:
                await asyncio.wait_for(host.proc.wait(), timeout=20)
            except TimeoutError:
                host.proc.kill()
                await host.proc.wait()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """Whether ``check`` came true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    assert await eventually(check, timeout), f"timed out waiting until {what}"


async def publish_events(pg_url: str, schema: str, db: Db, early: list[str]) -> None:
    """Publish ``go`` for the ``early`` workflows at once and for every other one when it starts waiting, as an
    application outside the hosts would: store the event, queue its id."""
    url = with_query(pg_url, application_name="publisher")
    store = PostgresPersistence.from_url(url, schema=schema)
    queue = PostgresQueue.from_url(url, schema=schema)

    async def publish(key: str) -> None:
        event = Event(event_name=EVENT_NAME, event_key=key, event_time=datetime.now(UTC))
        await store.create_event(event)
        await queue.enqueue(QueueType.EVENT, event.id)

    published: set[str] = set()
    try:
        await queue.start()
        for key in early:
            await publish(key)
            published.add(key)
        while True:
            rows = await db.rows(
                "SELECT DISTINCT event_key FROM {subscriptions} WHERE event_name = %s", EVENT_NAME
            )
            for (key,) in rows:
                if key not in published:
                    await publish(key)
                    published.add(key)
            await asyncio.sleep(0.1)
    finally:
        await queue.stop()
        await store.close()


async def test_three_hosts_survive_a_kill_and_a_freeze_past_the_lease(
    pg_url: str, schema: str, tmp_path: Path
) -> None:
    await prepare(pg_url, schema)
    conn = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    db = Db(conn, schema)
    publisher: asyncio.Task[None] | None = None
    try:
        async with host_processes(pg_url, schema, tmp_path) as hosts:
            ids = [i for host in hosts.values() for i in await started_ids(host)]
            assert len(set(ids)) == len(HOSTS) * WORKFLOWS_PER_HOST
            publisher = asyncio.create_task(
                publish_events(pg_url, schema, db, random.Random(7).sample(ids, len(ids) // 3))
            )
            total_steps = len(ids) * len(RECORDED_STEPS)

            # the kill: a quarter of the way in, while the doomed host has steps running
            doomed = hosts["doomed"].proc

            async def doomed_busy() -> bool:
                assert doomed.returncode is None, "the doomed host exited by itself"
                return await db.finished_steps() >= total_steps // 4 and bool(await db.in_flight("doomed"))

            await until(doomed_busy, "the doomed host ran a quarter of the steps", 60)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            await db.mark("kill")

            # the freeze: later, at a moment the frozen host's own steps are running
            frozen = hosts["frozen"].proc
            await until(
                lambda: _at_least(db.finished_steps(), total_steps // 2), "half the steps finished", 60
            )
            while True:
                assert frozen.returncode is None, "the host to freeze exited by itself"
                frozen.send_signal(signal.SIGSTOP)
                frozen_at = time.monotonic()  # the host's clock too: steps it began before this were running
                await asyncio.sleep(0.2)  # let whatever the host had sent reach the database
                if await db.in_flight("frozen"):
                    break
                frozen.send_signal(signal.SIGCONT)
                await asyncio.sleep(0.1)
            freeze_mark = await db.mark("freeze")
            await asyncio.sleep(FREEZE_SECONDS)
            thaw_mark = await db.mark("thaw")
            frozen.send_signal(signal.SIGCONT)

            async def all_complete() -> bool:
                for host in (hosts["steady"], hosts["frozen"]):
                    assert host.proc.returncode is None, f"host {host.name} exited (see {host.log})"
                done = await db.count("SELECT count(*) FROM {workflows} WHERE status = %s", "Complete")
                return done == len(ids)

            # a stale write shows up as an instance that never completes, so look at the audit either way
            completed = await eventually(all_complete, 90)
            # a moment for the thawed host's refused passes to be logged, then stop the survivors cleanly
            await asyncio.sleep(1.0)
    finally:
        if publisher is not None:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
    try:
        assert hosts["steady"].proc.returncode == 0 and hosts["frozen"].proc.returncode == 0
        audit = [Audit(*row) for row in await db.rows("SELECT * FROM {audit} ORDER BY seq")]
        runs = [
            Run(*row)
            for row in await db.rows(
                "SELECT idempotency_key, workflow_id, step, host, phase, began, at FROM {runs} ORDER BY seq"
            )
        ]
        check_fences(audit)
        check_frozen_host(audit, runs, frozen_at, freeze_mark, thaw_mark, hosts["frozen"].log)
        assert completed, "not every workflow completed within 90 s"
        check_step_runs(runs, audit, ids, frozen_at)
        await check_instances(pg_url, schema, ids)
        check_completions(audit, ids)
    finally:
        await conn.close()


async def _at_least(count: Awaitable[int], target: int) -> bool:
    return await count >= target


async def check_instances(pg_url: str, schema: str, ids: list[str]) -> None:
    """Every instance COMPLETE, every pointer COMPLETE, and no step has two pointers (no duplicated branch)."""
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    try:
        instances = [await store.get_workflow(i) for i in ids]
    finally:
        await store.close()
    shapes = set()
    for instance in instances:
        assert instance.status is WorkflowStatus.COMPLETE, instance.id
        assert {p.status for p in instance.execution_pointers} == {PointerStatus.COMPLETE}, (
            f"{instance.id} ended with pointers {[(p.step_id, p.status.value) for p in instance.execution_pointers]}"
        )
        per_step = Counter(p.step_id for p in instance.execution_pointers)
        assert set(per_step.values()) == {1}, f"{instance.id} has a step with two pointers: {per_step}"
        shapes.add(frozenset(per_step))
    assert len(shapes) == 1, "instances of one definition ended with different pointers"


def story(audit: list[Audit], workflow_id: str) -> list[tuple[object, ...]]:
    """What happened to one instance, for failure messages: writes and leases (and the kill, freeze and thaw)."""
    return [
        (a.seq, a.kind, a.host, a.fence, a.new_status)
        for a in audit
        if a.resource == workflow_id or a.kind in ("kill", "freeze", "thaw")
    ]


def check_step_runs(runs: list[Run], audit: list[Audit], ids: list[str], frozen_at: float) -> None:
    """Each recorded step of each workflow ran under one idempotency key, once, unless it had begun on the
    killed host or on the frozen host before it froze (running then, or finished in a pass not yet persisted)."""
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    may_repeat: set[str] = set()
    for run in runs:
        keys[(run.workflow_id, run.step)].add(run.key)
        (starts if run.phase == "start" else ends)[run.key] += 1
        if run.host == "doomed" or (run.host == "frozen" and run.began < frozen_at):
            may_repeat.add(run.key)
    assert set(keys) == {(i, s) for i in ids for s in RECORDED_STEPS}, "a step never ran"
    doubled = sorted(k for k, v in keys.items() if len(v) > 1)
    assert not doubled, f"{len(doubled)} steps ran under two pointers: " + "; ".join(
        f"{w} {step}: {[(r.host, r.phase, round(r.began - frozen_at, 3)) for r in runs if r.workflow_id == w]}"
        f" writes and leases: {story(audit, w)}"
        for w, step in doubled[:3]
    )
    assert all(ends[k] >= 1 for k in starts), "a step began but never finished"
    unexpected = {k for k, n in starts.items() if n > 1} - may_repeat
    history = {
        k: [(r.host, r.phase, round(r.began - frozen_at, 3)) for r in runs if r.key == k]
        for k in sorted(unexpected)[:5]
    }
    assert not unexpected, (
        f"{len(unexpected)} steps not in flight at the kill or the freeze ran again"
        f" (host, phase, began relative to the freeze): {history}"
    )


def check_completions(audit: list[Audit], ids: list[str]) -> None:
    """Every workflow became COMPLETE in exactly one write."""
    completed = Counter(
        a.resource for a in audit if a.new_status == "Complete" and a.old_status != "Complete"
    )
    assert completed == Counter(ids)


def check_fences(audit: list[Audit]) -> None:
    """No write to an instance carries a fence older than a lease already taken on it by then: a host that lost
    its lease wrote nothing afterwards."""
    newest: dict[str, tuple[int, str | None]] = {}
    stale: list[str] = []
    for a in audit:
        if a.resource is None or a.fence is None:
            continue
        if a.kind == "lease":
            newest[a.resource] = (a.fence, a.host)
        elif a.kind == "write" and a.resource in newest and a.fence < newest[a.resource][0]:
            stale.append(f"{a.host} wrote {a.resource} with fence {a.fence} after {newest[a.resource]}")
    assert not stale, stale[:5]


def check_frozen_host(
    audit: list[Audit], runs: list[Run], frozen_at: float, freeze_mark: int, thaw_mark: int, log: Path
) -> None:
    """Instances the frozen host was running steps of were taken over while it was frozen; the pass it finished
    on each after SIGCONT was refused with LeaseLostError, and no lease it held when it froze wrote again."""
    ended_before = {r.key for r in runs if r.host == "frozen" and r.phase == "end" and r.at < frozen_at}
    running = {
        r.workflow_id
        for r in runs
        if r.host == "frozen" and r.phase == "start" and r.began < frozen_at and r.key not in ended_before
    }
    taken_over = {
        a.resource
        for a in audit
        if a.kind == "lease"
        and a.host != "frozen"
        and freeze_mark < a.seq < thaw_mark
        and a.resource in running
    }
    assert taken_over, f"no instance of the {len(running)} the frozen host was running was taken over"
    # leases taken after SIGCONT are new ones, rightly used; those from before the freeze must write nothing
    held_at_freeze = {
        a.fence for a in audit if a.kind == "lease" and a.host == "frozen" and a.seq < freeze_mark
    }
    late_writes = [
        a
        for a in audit
        if a.kind == "write" and a.host == "frozen" and a.seq > thaw_mark and a.fence in held_at_freeze
    ]
    assert not late_writes, late_writes[:5]
    text = log.read_text()
    refused = {w for w in taken_over if f"LeaseLostError: lease on '{w}' lost" in text}
    assert refused == taken_over, (
        f"no LeaseLostError logged for {sorted(taken_over - refused)[:5]} (see {log})"
    )
