"""Crash recovery on SQLite: a host process killed with SIGKILL at random points still finishes every workflow.

The host (``crash_host.py``) runs 50 workflows of five recorded steps with a delay and an event wait among them.
It is killed ten times at random moments and restarted each time; then it runs to the end. Every step run is
logged, and the test writes a ``KILL`` line after each kill, so the log splits into epochs, one per host
process. A step may run again only in a later epoch (it was in flight when the host died), never twice in one.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from wfe_core.models import WorkflowStatus
from wfe_sqlite import SqlitePersistence

from . import crash_host

KILLS = 10
HOST_SCRIPT = Path(crash_host.__file__)


def _spawn(database: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HOST_SCRIPT), str(database), str(log)])


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_sigkilled_host_finishes_every_workflow_once(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    database, log = tmp_path / "crash.db", tmp_path / "steps.log"
    log.touch()
    hits = 0
    for _ in range(KILLS):
        host = _spawn(database, log)
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        if host.poll() is None:
            hits += 1
        host.kill()
        await asyncio.to_thread(host.wait)
        with log.open("a") as marker:
            marker.write("KILL\n")
    final = _spawn(database, log)
    assert await asyncio.to_thread(final.wait, 300) == 0, f"the last host failed (seed {seed})"

    persistence = SqlitePersistence.from_url(f"sqlite:///{database}")
    instances = await persistence.list_workflows(definition_id=crash_host.DEFINITION, take=1000)
    await persistence.close()
    assert len(instances) == crash_host.WORKFLOWS
    assert {i.reference for i in instances} == {f"wf-{n}" for n in range(crash_host.WORKFLOWS)}
    assert all(i.status is WorkflowStatus.COMPLETE for i in instances), f"seed {seed}"

    epoch = 0
    starts: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    ends: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    completions: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        kind, *fields = line.split()
        if kind == "KILL":
            epoch += 1
        elif kind == "START":
            starts[(fields[0], fields[1])].append(epoch)
        elif kind == "DONE":
            ends[(fields[0], fields[1])].append(epoch)
        elif kind == "COMPLETE":
            completions[fields[0]] += 1

    ids = {i.id for i in instances}
    every_step = {(i, label) for i in ids for label in crash_host.LABELS}
    assert set(starts) == set(ends) == every_step, f"seed {seed}"
    for runs in (starts, ends):
        twice = {key: epochs for key, epochs in runs.items() if len(epochs) != len(set(epochs))}
        assert not twice, f"steps ran twice in one host process, with no crash between (seed {seed}): {twice}"
    again = sum(len(epochs) - 1 for epochs in starts.values())
    # A step runs again only when it was in flight at a kill: at most the host's concurrency per kill. Some
    # kills land mid-step (steps take most of the host's time), so some steps do run again.
    assert 1 <= again <= KILLS * crash_host.MAX_CONCURRENT_WORKFLOWS, f"{again} re-runs (seed {seed})"
    assert max(completions.values()) == 1, f"a workflow completed twice (seed {seed}): {completions}"
    assert set(completions) <= ids
    assert hits >= KILLS // 2, f"only {hits} kills found the host still running (seed {seed})"
