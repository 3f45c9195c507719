"""Driving one run in this process: build the host, start or resume the workflow, follow it to its end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from rich.console import Console

from wfe._host import WorkflowHost
from wfe._host_builder import WorkflowHostBuilder
from wfe.cli.progress import ProgressView
from wfe_core.errors import WorkflowNotFoundError
from wfe_core.models import QueueType, WorkflowInstance, WorkflowStatus
from wfe_core.step import LogSink

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

FINAL = (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED, WorkflowStatus.SUSPENDED)
REFRESH_SECONDS = 0.25

# A run in this process should notice quickly when a killed process's lease on it has expired, and stop fast
# on Ctrl-C (a step cut short runs again on resume), so the CLI host polls often and holds short leases.
CLI_HOST_OPTIONS: dict[str, Any] = {
    "poll_interval": timedelta(seconds=1),
    "lock_ttl": timedelta(seconds=10),
    "stop_timeout": timedelta(seconds=1),
}


def build_host(
    store: str,
    view: ProgressView,
    *,
    lock: str | None = None,
    queue: str | None = None,
    log_sink: LogSink | None = None,
    search: str | None = None,
    **options: Any,
) -> WorkflowHost:
    """A host on ``store`` whose steps report to ``view`` (their log lines to ``log_sink`` when given, which
    passes them on to the view itself)."""
    builder = (
        WorkflowHostBuilder()
        .use_persistence(store)
        .use_log_sink(log_sink if log_sink is not None else view)
        .use_step_middleware(view.middleware)
    )
    if lock is not None:
        builder.use_lock(lock)
    if queue is not None:
        builder.use_queue(queue)
    if search is not None:
        builder.use_search_index(search)
    return builder.with_options(**options).build()


def run_host(store: str, view: ProgressView, accept: Callable[[WorkflowInstance], bool]) -> WorkflowHost:
    """The host of ``wfe run`` / ``wfe resume``: on the store and its lock, running only what ``accept`` says.

    Its queue is its own (in memory): it runs one run, which it starts or queues itself, and its poller finds
    what else becomes runnable in the store (a published event, a lease that lapsed). A queue shared through
    the store would hand it the other runs' work, and its stop would wait for a blocking dequeue.
    """
    return build_host(store, view, queue="memory://", accept=accept, **CLI_HOST_OPTIONS)


def register(host: WorkflowHost, workflows: Sequence[Any]) -> None:
    """Register every compiled workflow of the pipeline (sub-workflows included)."""
    for workflow in workflows:
        host.register_workflow(workflow, replace=True)


class Interrupt:
    """SIGINT/SIGTERM set an event instead of raising, so the run stops cleanly and stays resumable; a second
    one forces the exit at once (``on_first`` says so when the first comes)."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.event = asyncio.Event()
        self.signal: int | None = None
        self._on_first = on_first
        self._installed: list[int] = []

    def __enter__(self) -> Interrupt:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._fire, sig)
                self._installed.append(sig)
        return self

    def _fire(self, sig: int) -> None:
        if self.event.is_set():
            # Forced: steps cut short run again on resume (what a shell step started may keep running).
            os._exit(EXIT_INTERRUPTED)
        self.signal = sig
        self.event.set()
        if self._on_first is not None:
            self._on_first()

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)


async def follow(
    host: WorkflowHost,
    workflow_id: str,
    view: ProgressView,
    interrupt: Interrupt,
    tick: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Show the run until it completes (0), ends terminated or suspended (1) or is interrupted (130); ``tick``
    is awaited at each refresh (``wfe run`` applies the control requests of ``wfe terminate`` there)."""
    loop = asyncio.get_running_loop()
    waiter = asyncio.ensure_future(host.wait_for_workflow(workflow_id, timedelta(days=36500), statuses=FINAL))
    stopper = asyncio.ensure_future(interrupt.event.wait())
    try:
        last = 0.0
        while True:
            await asyncio.wait(
                {waiter, stopper}, timeout=REFRESH_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter.done():
                instance: WorkflowInstance = waiter.result()
                view.update(instance)
                return EXIT_OK if instance.status is WorkflowStatus.COMPLETE else EXIT_FAILED
            if stopper.done():
                with contextlib.suppress(WorkflowNotFoundError):
                    view.update(await host.get_workflow(workflow_id))
                return EXIT_INTERRUPTED
            if loop.time() - last >= REFRESH_SECONDS:
                last = loop.time()
                if tick is not None:
                    await tick()
                view.update(await host.get_workflow(workflow_id))
            else:
                view.refresh()
    finally:
        for task in (waiter, stopper):
            task.cancel()
        await asyncio.gather(waiter, stopper, return_exceptions=True)


async def continue_run(host: WorkflowHost, instance: WorkflowInstance) -> None:
    """Make a stored run go on: resume it when suspended, else queue it (its last process may have died with
    it dequeued; a lease that process still holds expires after the lock TTL, and the poller retries)."""
    if instance.status is WorkflowStatus.SUSPENDED:
        await host.resume_workflow(instance.id)
    elif instance.status is WorkflowStatus.RUNNABLE:
        await host.queue.enqueue(QueueType.WORKFLOW, instance.id)


def resume_hint(console: Console, instance: WorkflowInstance, store: str, default_store: str) -> None:
    """Tell how to go on with a run that stopped before completing."""
    db = "" if store == default_store else f" --db {store}"
    console.print(f"resume with: wfe resume {instance.name or instance.id}{db}", highlight=False)
