"""A host process for the restart tests: killed mid-step or stopped, then restarted on the same store.

Usage: ``python restart_host.py MODE URL LOG [SCHEMA] [HOST_ID]``. Every line it appends to LOG is
``<kind> <wall-clock seconds> [<workflow>]``: ``HOST`` just before ``start()``, ``START``/``DONE`` around the
one step, ``COMPLETE`` when the workflow completes. Default host options (30 s lease ttl, 10 s poll interval),
so a step that runs again within a second of ``HOST`` was not waiting for a lease to lapse.

Modes:

* ``begin``: start one workflow, whose step runs until the process is killed (SIGKILL in the test).
* ``stop``: start one workflow, and once its step has begun stop the host gracefully (a short stop timeout
  cancels the step), then exit 0.
* ``finish``: run until every workflow of the store is complete (the step is quick now), then exit 0.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder, WorkflowInstance, WorkflowStatus

DEFINITION = "restart"
_log_fd = -1
_step_seconds = 3600.0
_step_started = asyncio.Event()


def _write(kind: str, workflow_id: str = "") -> None:
    os.write(_log_fd, f"{kind} {time.time():.6f} {workflow_id}".rstrip().encode() + b"\n")


async def slow_step(ctx: StepExecutionContext) -> None:
    _write("START", ctx.workflow.id)
    _step_started.set()
    await asyncio.sleep(_step_seconds)
    _write("DONE", ctx.workflow.id)


async def _completed(instance: WorkflowInstance) -> None:
    _write("COMPLETE", instance.id)


definition = WorkflowBuilder().then_fn(slow_step, name="slow").build(DEFINITION, 1)


async def main(mode: str, url: str, log: str, schema: str, host_id: str) -> None:
    global _log_fd, _step_seconds
    _log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _step_seconds = 0.2 if mode == "finish" else 3600.0
    builder = WorkflowHostBuilder().use_persistence(url, **({"schema": schema} if schema else {}))
    if host_id:
        builder.with_host_id(host_id)
    if mode == "stop":
        builder.with_options(stop_timeout=timedelta(milliseconds=200))
    host = builder.use_workflow_middleware("post", _completed).build()
    host.register_workflow(definition)
    _write("HOST")
    await host.start()
    if mode in ("begin", "stop"):
        await host.start_workflow(DEFINITION, 1, {})
        await _step_started.wait()
        if mode == "begin":
            await asyncio.Event().wait()  # until killed
        await host.stop()
        return
    try:
        while True:
            instances = await host.persistence.list_workflows(definition_id=DEFINITION, take=100)
            if instances and all(i.status is WorkflowStatus.COMPLETE for i in instances):
                return
            await asyncio.sleep(0.05)
    finally:
        await host.stop()


if __name__ == "__main__":
    arguments = sys.argv[1:] + ["", ""]
    asyncio.run(main(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]))
