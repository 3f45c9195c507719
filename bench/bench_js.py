"""Per-step overhead of a trivial JavaScript step on a warm JsPool, against a bare in-process MiniRacer eval.

Run: python bench/bench_js.py [--runs N]

Prints, for each variant, the median, p90 and mean milliseconds per step over N runs (after a warm-up):
  bare-eval        MiniRacer().eval("1+1") on a context made once (the floor: no context, no process hop)
  bare-context     a fresh MiniRacer() + eval + close per step (what isolation costs in-process)
  pool-trivial     JsPool.run("output('a', 1)") on a warm worker (fresh context, prelude, pipes, JSON)
  pool-data        the same with a ~10 KB data object in and out
  pool-typescript  a small TypeScript step (types stripped, transpile cached after the first run)
and the cold start of a worker (spawn to first result).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

TARGET_MS = 10.0
VARIANTS: dict[str, dict[str, float]] = {}
"""Every summarised variant, written to bench/results/js_pool.json at the end."""


def summarise(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    VARIANTS[name] = {"median_ms": statistics.median(ms), "p90_ms": p90, "mean_ms": statistics.fmean(ms)}
    return f"{name:<16} median {statistics.median(ms):7.2f} ms   p90 {p90:7.2f} ms   mean {statistics.fmean(ms):7.2f} ms"


def bench_sync(runs: int, fn: Callable[[], object]) -> list[float]:
    for _ in range(min(20, runs)):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


async def bench_async(runs: int, fn: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(min(20, runs)):
        await fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


def in_process(runs: int) -> list[str]:
    from py_mini_racer import MiniRacer

    racer = MiniRacer()
    bare = bench_sync(runs, lambda: racer.eval("1+1"))
    racer.close()

    def fresh() -> None:
        context = MiniRacer()
        context.eval("1+1")
        context.close()

    return [summarise("bare-eval", bare), summarise("bare-context", bench_sync(runs, fresh))]


async def pooled(runs: int) -> tuple[list[str], float]:
    from wfe_yaml.js import JsPool

    data = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(150)]}
    ts = "interface Item { id: number }\nconst items: Item[] = inputs().items;\noutput('n', items.length);"
    lines = []
    async with JsPool(size=1) as pool:
        started = time.perf_counter()
        await pool.run("output('a', 1)", timeout=30)
        cold = time.perf_counter() - started
        await asyncio.sleep(0.05)
        lines.append(
            summarise("pool-trivial", await bench_async(runs, lambda: pool.run("output('a', 1)", timeout=30)))
        )
        lines.append(
            summarise(
                "pool-data",
                await bench_async(runs, lambda: pool.run("output('d', inputs())", data=data, timeout=30)),
            )
        )
        lines.append(
            summarise("pool-typescript", await bench_async(runs, lambda: pool.run(ts, data=data, timeout=30)))
        )
    return lines, cold


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.runs} runs per variant")
    for line in in_process(args.runs):
        print(line)
    lines, cold = asyncio.run(pooled(args.runs))
    for line in lines:
        print(line)
    print(f"{'worker-cold':<16} {cold * 1000:7.2f} ms (spawn, V8 start, first step)")
    from results_file import write

    write(
        "js_pool", {"runs": args.runs, "variants": VARIANTS, "cold_ms": cold * 1000, "target_ms": TARGET_MS}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
