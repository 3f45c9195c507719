"""A restarted host picks up at once: it takes over the leases of its killed predecessor when it can prove it
gone (SQLite: the same machine, the process no longer exists; PostgreSQL: the same host identity), and a
gracefully stopped host leaves no lease behind.

Real processes (``restart_host.py``) with the default 30 s lease ttl and 10 s poll interval: a step that runs
again within a second of the new host's start did not wait for the lease to lapse, nor for a second poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wfe_core.testing.services import service_url

from . import restart_host

HOST_SCRIPT = Path(restart_host.__file__)
PICKUP_SECONDS = 1.0
"""The bound the restart promise names: the interrupted step runs again within 1 s of the host's start."""


def _spawn(*arguments: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*prefix, sys.executable, str(HOST_SCRIPT), *arguments])


def _lines(log: Path) -> list[tuple[str, float, str]]:
    lines = []
    for line in log.read_text().splitlines():
        kind, at, *rest = line.split()
        lines.append((kind, float(at), rest[0] if rest else ""))
    return lines


async def _wait_for_line(log: Path, kind: str, count: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):
        if sum(1 for line in _lines(log) if line[0] == kind) >= count:
            return
        assert process.poll() is None, f"the host exited ({process.returncode}) before logging {kind}"
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} line after 60 s: {_lines(log)}")


@contextlib.asynccontextmanager
async def _killed_at_exit(process: subprocess.Popen[bytes]) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``process``, killed (as a crash would end it) and reaped when the block ends, however it ends."""
    try:
        yield process
    finally:
        process.kill()
        await asyncio.to_thread(process.wait)


async def _finish(process: subprocess.Popen[bytes]) -> None:
    try:
        assert await asyncio.to_thread(process.wait, 60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)


def _assert_picked_up_at_once_and_completed_once(log: Path) -> None:
    lines = _lines(log)
    restarted_at = [at for kind, at, _ in lines if kind == "HOST"][-1]
    starts = [(at, workflow) for kind, at, workflow in lines if kind == "START"]
    assert len(starts) == 2, f"the step ran once before the restart and once after it: {lines}"
    (_, first), (rerun_at, second) = starts
    assert first == second
    assert rerun_at - restarted_at < PICKUP_SECONDS, (
        f"the interrupted step ran again {rerun_at - restarted_at:.2f} s after the host started"
    )
    assert [workflow for kind, _, workflow in lines if kind == "DONE"] == [first]
    assert [workflow for kind, _, workflow in lines if kind == "COMPLETE"] == [first], "completed once"


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_sqlite_host_killed_mid_step_is_taken_over_at_once_on_restart(tmp_path: Path) -> None:
    url, log = f"sqlite:///{tmp_path / 'wfe.db'}", tmp_path / "steps.log"
    log.touch()
    async with _killed_at_exit(_spawn("begin", url, str(log))) as first:
        await _wait_for_line(log, "START", 1, first)
    await _finish(_spawn("finish", url, str(log)))
    _assert_picked_up_at_once_and_completed_once(log)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_sqlite_host_stopped_gracefully_leaves_no_lease_and_the_next_picks_up_at_once(
    tmp_path: Path,
) -> None:
    database, log = tmp_path / "wfe.db", tmp_path / "steps.log"
    url = f"sqlite:///{database}"
    log.touch()
    await _finish(_spawn("stop", url, str(log)))
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        held = conn.execute("SELECT resource FROM locks WHERE token IS NOT NULL").fetchall()
    assert held == [], "a graceful stop releases every lease it holds, the poller's included"
    await _finish(_spawn("finish", url, str(log)))
    _assert_picked_up_at_once_and_completed_once(log)


@pytest.fixture
async def pg_schema() -> AsyncIterator[tuple[str, str]]:
    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_t_{uuid.uuid4().hex[:10]}"
    yield url, schema
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _own_pid_namespace() -> tuple[str, ...]:
    """A command prefix that runs a process in a pid namespace of its own (killed with its parent), so its
    successor cannot prove it gone by its pid and has only the host identity to go by; () when not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    prefix = (unshare, "--pid", "--fork", "--mount-proc", "--kill-child")
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if done.returncode == 0 else ()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_postgres_host_killed_mid_step_is_taken_over_by_its_successor_with_the_same_host_id(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    url, schema = pg_schema
    log = tmp_path / "steps.log"
    log.touch()
    isolated = _own_pid_namespace()
    async with _killed_at_exit(_spawn("begin", url, str(log), schema, "pod-0", prefix=isolated)) as first:
        await _wait_for_line(log, "START", 1, first)
    await _finish(_spawn("finish", url, str(log), schema, "pod-0"))
    _assert_picked_up_at_once_and_completed_once(log)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_postgres_host_of_another_identity_does_not_take_over_a_live_hosts_leases(
    tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    url, schema = pg_schema
    log = tmp_path / "steps.log"
    log.touch()
    async with _killed_at_exit(_spawn("begin", url, str(log), schema, "pod-0")) as first:
        await _wait_for_line(log, "START", 1, first)
        async with _killed_at_exit(_spawn("begin", url, str(log), schema, "pod-1")) as second:
            await _wait_for_line(log, "START", 2, second)  # its own workflow's step
            await asyncio.sleep(PICKUP_SECONDS)  # time enough to have taken the first one's over
            starts = [workflow for kind, _, workflow in _lines(log) if kind == "START"]
            assert len(starts) == 2 and starts[0] != starts[1], "pod-1 never ran pod-0's step"
