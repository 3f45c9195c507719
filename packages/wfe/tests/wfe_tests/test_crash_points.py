"""The crash-point sweep: a host process killed right after each commit of a scenario loses and repeats nothing.

``crash_point_host.py`` runs the scenario (events published by the host before and after their waits, so a kill
also falls between an event's commit and its delivery there; a loop of waits on events published up front;
parallel branches; a sub-workflow). A first run counts its commits; then, on a fresh
store each time, a host is killed with SIGKILL right after commit N, for every N, and a new host finishes the
scenario. Each time: both instances complete, each event was consumed exactly once by the instance waiting for
it (the loop saw ticks 0, 1, 2), no step whose end was committed ran again, and no instance completed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from wfe_core.testing.services import service_url

from . import crash_point_host as scenario

HOST_SCRIPT = Path(scenario.__file__)
ENDED = "wfe.workflow.ended"
EVENTS = {"early": 1, "child-go": 1, "late": 1, "tick": scenario.TICKS, ENDED: 1}
POSTGRES_KILLS = 40


async def _run(url: str, schema: str, log: Path, kill_at: int) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HOST_SCRIPT), url, schema, str(log), str(kill_at)
    )
    return await asyncio.wait_for(process.wait(), 120)


def _commits(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith("COMMIT "))


def _check_log(log: Path, kill_at: int) -> None:
    """No step started again once its end was committed, and no workflow completed twice."""
    ended: set[str] = set()
    completions: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        kind, *fields = line.split()
        if kind == "ENDED":
            ended.add(fields[0])
        elif kind == "START":
            assert fields[0] not in ended, f"kill after commit {kill_at}: step {fields[1]} ran after its end"
        elif kind == "COMPLETED":
            completions[fields[0]] += 1
    assert all(n == 1 for n in completions.values()), f"kill after commit {kill_at}: {completions}"


def _check_store(rows: dict[str, list[tuple[Any, ...]]], kill_at: int) -> None:
    """``rows``: the instances (id, definition, status, data), the events (id, name) and the consumptions
    (workflow id, event id) read from the store."""
    where = f"kill after commit {kill_at}"
    instances = rows["instances"]
    assert sorted(r[1] for r in instances) == [scenario.CHILD, scenario.PARENT], where
    assert all(r[2] == "Complete" for r in instances), f"{where}: {instances}"
    names = Counter(name for _, name in rows["events"])
    assert dict(names) == EVENTS, f"{where}: events published {dict(names)}"
    consumed = Counter(rows["consumed"])
    assert max(consumed.values()) == 1, f"{where}: an event consumed twice by one instance: {consumed}"
    by_id = {event_id: name for event_id, name in rows["events"]}
    parent_id = next(r[0] for r in instances if r[1] == scenario.PARENT)
    child_id = next(r[0] for r in instances if r[1] == scenario.CHILD)
    expected = Counter({"early": 1, "late": 1, "tick": scenario.TICKS, ENDED: 1})
    assert Counter(by_id[e] for w, e in consumed if w == parent_id) == expected, where
    assert [by_id[e] for w, e in consumed if w == child_id] == ["child-go"], where
    data = next(r[3] for r in instances if r[1] == scenario.PARENT)
    assert data["ticks"] == list(range(scenario.TICKS)) and data["early"] == "early", f"{where}: {data}"


async def _sweep(
    kill_points: list[int],
    fresh_store: Any,
    read_store: Any,
    tmp_path: Path,
) -> dict[str, int]:
    """Each kill point on a store and log of its own; two at a time (the machine's cores), which changes
    nothing of what a host sees: it kills itself right after its Nth commit, however busy the machine is."""
    figures = {"kill points": len(kill_points), "killed": 0, "completed before the kill point": 0}
    lanes = asyncio.Semaphore(2)

    async def one(index: int, kill_at: int) -> None:
        async with lanes:
            url, schema = await fresh_store(index)
            log = tmp_path / f"kill-{index}-at-{kill_at}.log"
            log.touch()
            code = await _run(url, schema, log, kill_at)
            if code == -9:
                figures["killed"] += 1
                with log.open("a") as marker:
                    marker.write("KILL\n")
                code = await _run(url, schema, log, 0)
            else:
                figures["completed before the kill point"] += 1
            assert code == 0, f"kill after commit {kill_at}: the finishing host exited with {code}"
            _check_log(log, kill_at)
            _check_store(await read_store(url, schema), kill_at)

    await asyncio.gather(*(one(index, kill_at) for index, kill_at in enumerate(kill_points, start=1)))
    return figures


def _sqlite_rows(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    import json

    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn, conn:
        instances = [
            (r[0], r[1], r[2], json.loads(r[3]))
            for r in conn.execute("SELECT id, definition_id, status, data FROM workflows")
        ]
        events = conn.execute("SELECT id, event_name FROM events").fetchall()
        consumed = conn.execute(
            "SELECT workflow_id, consumed_event_id FROM event_subscriptions WHERE consumed_event_id IS NOT NULL"
        ).fetchall()
    return {"instances": instances, "events": events, "consumed": consumed}


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_host_killed_after_any_commit_on_sqlite_loses_and_repeats_nothing(tmp_path: Path) -> None:
    async def fresh_store(n: int) -> tuple[str, str]:
        return f"sqlite:///{tmp_path}/kill-{n}.db", "-"

    async def read_store(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
        return _sqlite_rows(url, schema)

    count_log = tmp_path / "count.log"
    url, _ = await fresh_store(0)
    assert await _run(url, "-", count_log, 0) == 0
    _check_store(_sqlite_rows(url, "-"), 0)
    commits = _commits(count_log)
    figures = await _sweep(list(range(1, commits + 1)), fresh_store, read_store, tmp_path)
    print(f"SQLite crash-point sweep: {commits} commits in a run; {figures}")
    # the commit count varies a little between runs (the event consumer and the passes interleave)
    assert figures["killed"] >= commits - 5, figures


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_host_killed_after_random_commits_on_postgres_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    import psycopg

    url = service_url("WFE_TEST_POSTGRES_URL")
    schemas: list[str] = []

    async def fresh_store(n: int) -> tuple[str, str]:
        schemas.append(f"wfe_kill_{uuid.uuid4().hex[:10]}")
        return url, schemas[-1]

    async def read_store(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            q = lambda table: f'"{schema}".{table}'  # noqa: E731
            instances = await (
                await conn.execute(f"SELECT id, definition_id, status, data FROM {q('workflows')}")
            ).fetchall()
            events = await (await conn.execute(f"SELECT id, event_name FROM {q('events')}")).fetchall()
            consumed = await (
                await conn.execute(
                    f"SELECT workflow_id, consumed_event_id FROM {q('event_subscriptions')}"
                    " WHERE consumed_event_id IS NOT NULL"
                )
            ).fetchall()
        return {"instances": instances, "events": events, "consumed": consumed}

    try:
        count_log = tmp_path / "count.log"
        first, schema = await fresh_store(0)
        assert await _run(first, schema, count_log, 0) == 0
        commits = _commits(count_log)
        seed = int(os.environ.get("WFE_CRASH_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        points = sorted(rng.randint(1, commits) for _ in range(POSTGRES_KILLS))
        figures = await _sweep(points, fresh_store, read_store, tmp_path)
        print(f"PostgreSQL crash-point sweep (seed {seed}): {commits} commits in a run; {figures}")
        assert figures["killed"] >= POSTGRES_KILLS - 5, figures
    finally:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for schema in schemas:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
