"""A host process of the queue tests: starts its share of workflows in a queue with limits and runs whatever the
queue lets it, until the test closes its stdin.

Usage: ``python queue_host.py URL SCHEMA LIMIT COUNT LOG [QUEUE_URL PREFIX]``; closing its stdin stops it. ``URL`` is the store (``sqlite:///...`` or
``postgresql://...``; ``SCHEMA`` the PostgreSQL schema, "-" for SQLite). ``LIMIT`` is ``concurrency=N`` or
``rate=N`` (N runs a second). ``COUNT`` workflows are started here. Each run of the one step appends
``START <workflow> <time>`` as it begins and ``END <workflow> <time>`` as it ends to ``LOG`` (O_APPEND lines,
``time.time()``, comparable across the processes of one machine); ``READY`` once every start is stored.
With ``QUEUE_URL`` (Valkey) the hosts' queue provider, which then keeps the queue slots, is Valkey under
``PREFIX``. The step takes ``$QUEUE_HOST_STEP_SECONDS`` (default 0.05); leases
last ``$QUEUE_HOST_LOCK_TTL`` seconds (default 5).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from datetime import timedelta

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder

QUEUE = "limited"


async def main(url: str, schema: str, limit: str, count: int, log: str, queue: list[str]) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    class Grants(logging.Handler):
        """``GRANT <workflow> <time>``: the time the store decided each grant at (what a rate limit counts)."""

        def emit(self, record: logging.LogRecord) -> None:
            decided = getattr(record, "decided_at", None)
            if decided is not None:
                write(f"GRANT {getattr(record, 'workflow_id', '?')} {decided.timestamp():.6f}")

    queues_log = logging.getLogger("wfe.queues")
    queues_log.setLevel(logging.DEBUG)
    queues_log.addHandler(Grants())

    async def work(ctx: StepExecutionContext) -> None:
        write(f"START {ctx.workflow.id} {time.time():.6f}")
        await asyncio.sleep(float(os.environ.get("QUEUE_HOST_STEP_SECONDS", "0.05")))
        write(f"END {ctx.workflow.id} {time.time():.6f}")

    kind, _, number = limit.partition("=")
    builder = WorkflowHostBuilder()
    builder.use_persistence(url, **({} if schema == "-" else {"schema": schema}))
    if queue:
        builder.use_queue(queue[0], prefix=queue[1])
    ttl = float(os.environ.get("QUEUE_HOST_LOCK_TTL", "5"))
    builder.with_options(poll_interval=timedelta(seconds=1), lock_ttl=timedelta(seconds=ttl))
    if kind == "concurrency":
        builder.add_queue(QUEUE, concurrency=int(number))
    else:
        builder.add_queue(QUEUE, rate_limit=(int(number), timedelta(seconds=1)))
    host = builder.build()
    host.register_workflow(WorkflowBuilder().then_fn(work, name="work").build("queued", 1))
    async with host:
        for _ in range(count):
            await host.start_workflow("queued", 1, queue=QUEUE)
        write("READY")
        # the test closes this process's stdin to stop it
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    os.close(fd)


if __name__ == "__main__":
    url, schema, limit, count, log = sys.argv[1:6]
    asyncio.run(main(url, schema, limit, int(count), log, sys.argv[6:8]))
