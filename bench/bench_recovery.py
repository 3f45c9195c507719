"""Recovery after a restart: from a new host's start to the steps its predecessor left behind running again.

Run: python bench/bench_recovery.py [--stores sqlite,postgres] [--runs 5] [--no-contrast]

Real processes, default host options (30 s lease ttl, 10 s poll interval). Host A (a process of its own, one
workflow slot) starts two workflows: the first one's step records that it started and sleeps; the second one
waits for a slot. Then A ends, one of two ways:

* ``kill``: SIGKILL while the first step sleeps (it holds the instance's lease, the poller's lease, and the
  queue entry of the waiting workflow);
* ``stop``: a graceful ``stop()`` while the first step sleeps (a 0.2 s stop timeout cancels the step).

Host B (a new process, on the same SQLite file, or the same PostgreSQL schema with the same ``host_id``) then
starts, and the benchmark reads, from the lines both processes append to a log (``time.monotonic()``, one clock
for every process of the machine):

* **from start()**: B's ``start()`` call to the interrupted step starting again, and to the waiting workflow's
  step starting (the bound of 1 s is on these);
* **from spawn**: the same from the moment the benchmark spawned B's process (adds Python's start-up, the
  import of ``wfe`` and building the host, which an application pays whatever the recovery does; each of the
  three is recorded on its own).

Each (store, way) pair runs ``--runs`` times on a fresh store; median and max are reported. The contrast row
(one run, PostgreSQL): A in a pid namespace of its own and B with another ``host_id``, so B cannot prove A gone
and waits for A's leases to lapse, as every restart did before leases named their holder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DEFINITION = "bench-recovery"
INTERRUPTED, WAITING = "interrupted", "waiting"
WAYS = ("kill", "stop")


# -- the host process -------------------------------------------------------------------------------------------


def _child(mode: str, url: str, log: str, host_id: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def line(kind: str, workflow_id: str = "") -> None:
        os.write(fd, f"{kind} {time.monotonic():.6f} {workflow_id}".rstrip().encode() + b"\n")

    line("BOOT")
    from wfe import StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus

    line("IMPORTED")
    step_seconds = 0.0 if mode == "finish" else 3600.0
    started = asyncio.Event()

    async def step(ctx: StepExecutionContext) -> None:
        line("START", ctx.workflow.id)
        started.set()
        await asyncio.sleep(step_seconds)

    async def main() -> None:
        builder = WorkflowHostBuilder().use_persistence(url)
        if host_id:
            builder.with_host_id(host_id)
        if mode == "stop":
            builder.with_options(stop_timeout=timedelta(milliseconds=200))
        if mode != "finish":
            builder.with_options(max_concurrent_workflows=1)  # the second workflow waits for a slot
        host = builder.build()
        definition = WorkflowBuilder().then_fn(step, name="sleep").build(DEFINITION, 1)
        host.register_workflow(definition)
        line("HOST")
        await host.start()
        if mode != "finish":
            await host.start_workflow(DEFINITION, 1, {}, workflow_id=INTERRUPTED)
            await host.start_workflow(DEFINITION, 1, {}, workflow_id=WAITING)
            await started.wait()
            line("READY")
            if mode == "kill":
                await asyncio.Event().wait()  # until killed
            await host.stop()
            return
        try:
            while True:
                instances = await host.persistence.list_workflows(definition_id=DEFINITION, take=10)
                if len(instances) == 2 and all(i.status is WorkflowStatus.COMPLETE for i in instances):
                    return
                await asyncio.sleep(0.02)
        finally:
            await host.stop()

    asyncio.run(main())


# -- the benchmark ----------------------------------------------------------------------------------------------


def _spawn(
    mode: str, url: str, log: Path, host_id: str, prefix: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*prefix, sys.executable, str(HERE), "--child", mode, url, str(log), host_id])


def _lines(log: Path) -> list[tuple[str, float, str]]:
    found = []
    for text in log.read_text().splitlines():
        kind, at, *rest = text.split()
        found.append((kind, float(at), rest[0] if rest else ""))
    return found


async def _wait_for(log: Path, kind: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(line[0] == kind for line in _lines(log)):
        if process.poll() is not None:
            raise RuntimeError(f"host A exited ({process.returncode}) before logging {kind}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {kind} line after {timeout:.0f} s")
        await asyncio.sleep(0.01)


async def _exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        code = await asyncio.to_thread(process.wait, timeout)
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)
    if code != 0:
        raise RuntimeError(f"a host process exited with {code}")


def _pid_namespace_prefix() -> tuple[str, ...]:
    """Runs a process in a pid namespace of its own (killed with its parent), so its successor cannot prove
    it gone by its pid; () when ``unshare`` is missing or not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    prefix = (unshare, "--pid", "--fork", "--mount-proc", "--kill-child")
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if done.returncode == 0 else ()


async def one_run(
    store: str, way: str, folder: Path, *, host_ids: tuple[str, str], prefix: tuple[str, ...] = ()
) -> dict[str, float]:
    """One restart: A starts the two workflows and ends ``way``; B starts and runs them. Seconds."""
    from stores import store_url

    log = folder / f"{store}-{way}-{time.monotonic_ns()}.log"
    log.touch()
    async with store_url(store) as url:
        assert url is not None
        host_a = _spawn("begin" if way == "kill" else "stop", url, log, host_ids[0], prefix)
        try:
            await _wait_for(log, "READY", host_a)
            if way == "kill":
                host_a.kill()
                await asyncio.to_thread(host_a.wait)
            else:
                await _exit(host_a, 60)
        finally:
            if host_a.poll() is None:
                host_a.kill()
                await asyncio.to_thread(host_a.wait)
        before = len(_lines(log))
        spawned = time.monotonic()
        await _exit(_spawn("finish", url, log, host_ids[1]), 120)
    lines = _lines(log)[before:]
    first = {kind: at for kind, at, _ in reversed(lines)}  # the first line of each kind
    host_at = first["HOST"]
    step_at = {
        workflow: next(at for kind, at, wid in lines if kind == "START" and wid == workflow)
        for workflow in (INTERRUPTED, WAITING)
    }
    return {
        "interrupted_s": step_at[INTERRUPTED] - host_at,
        "waiting_s": step_at[WAITING] - host_at,
        "interrupted_from_spawn_s": step_at[INTERRUPTED] - spawned,
        "waiting_from_spawn_s": step_at[WAITING] - spawned,
        "interpreter_s": first["BOOT"] - spawned,
        "import_wfe_s": first["IMPORTED"] - first["BOOT"],
        "build_host_s": host_at - first["IMPORTED"],
    }


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(runs)}
    for key in runs[0]:
        values = [run[key] * 1000 for run in runs]
        name = key.removesuffix("_s")
        out[f"{name}_median_ms"] = statistics.median(values)
        out[f"{name}_max_ms"] = max(values)
    out["samples_ms"] = {
        key.removesuffix("_s"): [round(run[key] * 1000, 1) for run in runs] for key in runs[0]
    }
    return out


async def main() -> None:
    from results_file import write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-contrast", action="store_true", help="skip the PostgreSQL lease-ttl contrast")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wfe-bench-recovery-") as tmp:
        folder = Path(tmp)
        for store in [s for s in args.stores.split(",") if s]:
            host_ids = ("bench-recovery-0", "bench-recovery-0") if store == "postgres" else ("", "")
            results: dict[str, Any] = {"store": store}
            for way in WAYS:
                runs = []
                for _ in range(args.runs):
                    runs.append(await one_run(store, way, folder, host_ids=host_ids))
                    print(f"[recovery {store} {way}] {runs[-1]}", flush=True)
                results[way] = summary(runs)
            write(f"recovery_{store}", results)
        if not args.no_contrast and "postgres" in args.stores.split(","):
            prefix = _pid_namespace_prefix()
            if prefix:
                run = await one_run(
                    "postgres",
                    "kill",
                    folder,
                    host_ids=("bench-recovery-a", "bench-recovery-b"),
                    prefix=prefix,
                )
                write("recovery_contrast_postgres", {"store": "postgres", "kill": summary([run])})
            else:
                print("[recovery] no contrast: unshare cannot make a pid namespace here", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
    else:
        asyncio.run(main())
