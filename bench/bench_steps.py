"""Shell and JavaScript step overhead: one-step YAML workflows on an in-memory host against the bare run.

Run: python bench/bench_steps.py [--runs 50]

- shell: a workflow whose one step runs ``true`` (type shell), start to completion, against a bare
  ``subprocess.run(["sh", "-c", "true"])`` and its asyncio equivalent.
- javascript: a workflow whose one step runs ``output('a', 1)`` (type deno, on the host's warm worker pool),
  against a bare MiniRacer eval of the same expression, and against a workflow with one no-op Python step (the
  engine's own share).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from results_file import write
from stores import host_for
from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowCompleted

SHELL = """
workflow:
  id: bench-shell
  version: 1
  steps:
    - name: nothing
      type: shell
      config:
        run: "true"
"""

JS = """
workflow:
  id: bench-js
  version: 1
  steps:
    - name: nothing
      type: deno
      config:
        script: "output('a', 1)"
"""


class NoOp(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(runs: int, once: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(3):
        await once()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await once()
        samples.append(time.perf_counter() - started)
    return samples


async def workflow_runs(definitions: list[Any], runs: int) -> dict[str, list[float]]:
    host = host_for(None)
    finished: dict[str, asyncio.Future[None]] = {}

    def seen(event: Any) -> None:
        future = finished.get(event.workflow_id)
        if isinstance(event, WorkflowCompleted) and future is not None and not future.done():
            future.set_result(None)

    host.on_lifecycle_event(seen)
    for definition in definitions:
        host.register_workflow(definition)
    results: dict[str, list[float]] = {}
    async with host:
        for definition in definitions:
            workflow = getattr(definition, "definition", definition)

            async def once(workflow: Any = workflow) -> None:
                future = asyncio.get_running_loop().create_future()
                workflow_id = await host.start_workflow(workflow.id, workflow.version, {})
                finished[workflow_id] = future
                instance = await host.get_workflow(workflow_id)
                if instance.status.value != "Complete":
                    await asyncio.wait_for(future, 60)
                del finished[workflow_id]

            results[workflow.id] = await timed(runs, once)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    from wfe_yaml import load_single_workflow_from_str

    noop = WorkflowBuilder().start_with(NoOp).build("bench-noop-one", 1)
    definitions: list[Any] = [noop, load_single_workflow_from_str(SHELL)]
    try:
        definitions.append(load_single_workflow_from_str(JS))
        has_js = True
    except Exception as exc:  # mini-racer missing: report the shell side alone
        print(f"JavaScript steps unavailable ({exc}); skipping them")
        has_js = False

    async def bare_async() -> None:
        process = await asyncio.create_subprocess_exec("sh", "-c", "true")
        await process.wait()

    async def bare_sync() -> None:
        # the baseline is the plain blocking call a script would make
        subprocess.run(["sh", "-c", "true"], check=True)  # noqa: ASYNC221

    bare_shell_async = await timed(args.runs, bare_async)
    bare_shell_sync = await timed(args.runs, bare_sync)
    flows = await workflow_runs(definitions, args.runs)
    engine_ms = median_ms(flows["bench-noop-one"])
    shell_ms = median_ms(flows["bench-shell"])
    bare_ms = min(median_ms(bare_shell_async), median_ms(bare_shell_sync))
    write(
        "steps_shell",
        {
            "bare_subprocess_ms": median_ms(bare_shell_sync),
            "bare_asyncio_subprocess_ms": median_ms(bare_shell_async),
            "noop_workflow_ms": engine_ms,
            "shell_workflow_ms": shell_ms,
            "overhead_ms": shell_ms - bare_ms,
            "ratio": shell_ms / bare_ms,
            "runs": args.runs,
        },
    )
    if has_js:
        from py_mini_racer import MiniRacer

        racer = MiniRacer()
        bare_eval = await timed(args.runs, lambda: asyncio.sleep(0, racer.eval("1+1")))
        racer.close()
        js_ms = median_ms(flows["bench-js"])
        write(
            "steps_js",
            {
                "bare_eval_ms": median_ms(bare_eval),
                "noop_workflow_ms": engine_ms,
                "js_workflow_ms": js_ms,
                "overhead_ms": js_ms - median_ms(bare_eval),
                "step_overhead_ms": js_ms - engine_ms,
                "runs": args.runs,
            },
        )


if __name__ == "__main__":
    asyncio.run(main())
