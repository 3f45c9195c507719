"""The HTTP server: API throughput and event-stream fan-out latency, against a real ``wfe serve --http``.

Run: python bench/bench_server.py [--store sqlite|postgres] [--seconds 5] [--subscribers 100]

- reads/s: ``GET /api/v1/workflows/{id}`` of a finished run, 16 clients at a time, for ``--seconds``.
- starts/s: ``POST /api/v1/workflows`` of a one-step workflow, 16 clients at a time (the server's host runs
  the started workflows meanwhile, as it would in production).
- fan-out: ``--subscribers`` clients follow ``/api/v1/stream``; for each of 20 runs started one after another,
  the latency from the ``WorkflowStarted`` event's own timestamp (taken by the host when it publishes it) to
  its arrival at each subscriber; median, p99 and max over all arrivals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from results_file import write

WFE = str(Path(sys.executable).parent / "wfe")
TOKEN = "bench-" + uuid.uuid4().hex
FLOW = """
workflow:
  id: tiny
  version: 1
  steps:
    - name: one
      type: shell
      config:
        run: "true"
"""
CLIENTS = 16


def start_server(folder: Path, store: str) -> tuple[subprocess.Popen[str], str]:
    """``wfe serve`` on ``store``, its error output written to ``folder/server.err`` and its output to
    ``folder/server.out`` (see ``server_errors``)."""
    (folder / "flows").mkdir()
    (folder / "flows" / "tiny.yaml").write_text(FLOW)
    with (folder / "server.err").open("w") as errors:
        process = subprocess.Popen(
            [WFE, "serve", "--dir", str(folder / "flows"), "--db", store, "--http", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "WFE_SERVER_TOKENS": TOKEN},
        )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("http: listening on "):
            # keep draining the host's output so that it never blocks on a full pipe, into server.out
            threading.Thread(target=_drain, args=(process, folder / "server.out"), daemon=True).start()
            return process, line.split("listening on ", 1)[1].strip()
    raise SystemExit(f"the server did not start (exit status {process.poll()}):\n{server_errors(folder)}")


def _drain(process: subprocess.Popen[str], into: Path) -> None:
    assert process.stdout is not None
    with into.open("w") as out:
        for line in process.stdout:
            out.write(line)
            out.flush()


def server_errors(folder: Path) -> str:
    """The end of what the server wrote (its error output, then its output): why a request failed when the
    server did."""
    parts = []
    for name in ("server.err", "server.out"):
        path = folder / name
        text = path.read_text(errors="replace") if path.exists() else ""
        parts.append(f"{name}: {text[-3000:] or '(nothing)'}")
    return "\n".join(parts)


async def rate(client: httpx.AsyncClient, seconds: float, call: object) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await call(client)  # type: ignore[operator]
            assert response.status_code < 300, response.text
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return done / (time.perf_counter() - started)


async def fan_out(base: str, subscribers: int, runs: int) -> dict[str, float]:
    latencies: list[float] = []
    ready = asyncio.Event()
    connected = 0
    limits = httpx.Limits(max_connections=subscribers + 10)

    async def follow(client: httpx.AsyncClient) -> None:
        nonlocal connected
        async with client.stream("GET", "/api/v1/stream", timeout=None) as response:
            event = None
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    connected += 1
                    if connected == subscribers:
                        ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "lifecycle":
                    arrived = datetime.now(UTC)
                    message = json.loads(line[6:])
                    if message["kind"] == "WorkflowStarted":
                        sent = datetime.fromisoformat(message["time"].replace("Z", "+00:00"))
                        latencies.append((arrived - sent).total_seconds() * 1000)
                        seen += 1
                        if seen == runs:
                            return

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        followers = [asyncio.create_task(follow(client)) for _ in range(subscribers)]
        await asyncio.wait_for(ready.wait(), 60)
        for _ in range(runs):
            await client.post("/api/v1/workflows", json={"definition_id": "tiny"})
            await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(*followers), 120)
    latencies.sort()
    return {
        "subscribers": subscribers,
        "events": runs,
        "median_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "sqlite":
            store = f"sqlite:///{tmp}/bench.db"
        else:
            url = os.environ.get("WFE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
            store = f"{url}?schema=wfe_bench_server_{uuid.uuid4().hex[:8]}"
        process, base = start_server(Path(tmp), store)
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
                first = (await client.post("/api/v1/workflows", json={"definition_id": "tiny"})).json()["id"]
                for _ in range(1200):  # a finished run to read
                    if (await client.get(f"/api/v1/workflows/{first}")).json()["status"] == "Complete":
                        break
                    await asyncio.sleep(0.05)
                reads = await rate(client, args.seconds, lambda c: c.get(f"/api/v1/workflows/{first}"))
                starts = await rate(
                    client,
                    args.seconds,
                    lambda c: c.post("/api/v1/workflows", json={"definition_id": "tiny"}),
                )
            await asyncio.sleep(2)  # let the started runs drain before timing the stream
            stream = await fan_out(base, args.subscribers, 20)
        except BaseException:
            print(
                f"the server (exit status {process.poll()}) wrote:\n{server_errors(Path(tmp))}",
                file=sys.stderr,
            )
            raise
        finally:
            process.terminate()
            process.wait(60)
            if args.store != "sqlite":
                import psycopg

                schema = store.rsplit("schema=", 1)[1]
                with psycopg.connect(store.split("?")[0], autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    write(
        f"server_{args.store}",
        {
            "store": args.store,
            "clients": CLIENTS,
            "reads_per_s": reads,
            "starts_per_s": starts,
            "fan_out": stream,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
