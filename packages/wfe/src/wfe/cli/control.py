"""``wfe terminate`` and ``wfe suspend``: steer a run, whether a ``wfe run`` elsewhere is running it or not.

A run being advanced by another process is under that process's lease, so the command leaves a request in the
store (an already-processed event ``wfe.control`` keyed by the run's id; no host delivers it) that the
``wfe run`` / ``wfe resume`` showing the run applies within a fraction of a second. When no process holds the
run (it is suspended, or its process died and its lease lapsed), the command changes the run itself.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

import click

from wfe._host import WorkflowHost
from wfe.cli.common import DB_HELP, cli, console, run_async
from wfe.cli.inspecting import store_of
from wfe.cli.progress import ProgressView
from wfe.cli.session import CLI_HOST_OPTIONS, EXIT_FAILED, EXIT_OK, build_host
from wfe_core.models import Event, WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider

CONTROL_EVENT = "wfe.control"
Action = Literal["terminate", "suspend"]
_ENDED = (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED)


async def request(persistence: PersistenceProvider, workflow_id: str, action: Action, now: datetime) -> None:
    """Leave ``action`` for the process running the run."""
    await persistence.create_event(
        Event(
            event_name=CONTROL_EVENT,
            event_key=workflow_id,
            event_data={"action": action},
            event_time=now,
            is_processed=True,
        )
    )


class Requests:
    """The control requests for one run made since it was (re)started here, each applied once."""

    def __init__(self, host: WorkflowHost, workflow_id: str) -> None:
        self.host = host
        self.workflow_id = workflow_id
        self.since = host.clock.now()
        self._seen: set[str] = set()

    async def apply(self) -> None:
        persistence = self.host.persistence
        for event_id in await persistence.get_events(CONTROL_EVENT, self.workflow_id, self.since):
            if event_id in self._seen:
                continue
            self._seen.add(event_id)
            event = await persistence.get_event(event_id)
            action = event.event_data.get("action") if isinstance(event.event_data, dict) else None
            if action == "terminate":
                await self.host.terminate_workflow(self.workflow_id)
            elif action == "suspend":
                await self.host.suspend_workflow(self.workflow_id)


def _reached(instance: WorkflowInstance, action: Action) -> bool:
    if action == "terminate":
        return instance.status in _ENDED
    return instance.status is not WorkflowStatus.RUNNABLE


async def _steer(store: str, run_id: str, action: Action) -> int:
    out = console()
    host = build_host(store, ProgressView(out, live=False), **CLI_HOST_OPTIONS)
    await host.persistence.ensure_store_exists()
    try:
        instance = await host.persistence.get_workflow(run_id)
        label = instance.name or instance.id
        if instance.status in _ENDED or (action == "suspend" and instance.status is WorkflowStatus.SUSPENDED):
            out.print(f"{label} is already {instance.status.value}: nothing to {action}", highlight=False)
            return EXIT_FAILED if instance.status in _ENDED else EXIT_OK
        await request(host.persistence, instance.id, action, host.clock.now())
        loop = asyncio.get_running_loop()
        # The process that holds the run applies the request at once; a dead one's lease lapses within its ttl.
        deadline = loop.time() + CLI_HOST_OPTIONS["lock_ttl"].total_seconds() + 5
        while True:
            current = await host.persistence.get_workflow(instance.id)
            if _reached(current, action):
                break
            lease = await host.lock.acquire(instance.id, CLI_HOST_OPTIONS["lock_ttl"])
            if lease is not None:
                await host.lock.release(lease)
                if action == "terminate":
                    await host.terminate_workflow(instance.id)
                else:
                    await host.suspend_workflow(instance.id)
                current = await host.persistence.get_workflow(instance.id)
                break
            if loop.time() > deadline:
                out.print(
                    f"{action} of {label} requested: the process running it applies it as its running step "
                    "ends",
                    highlight=False,
                )
                return EXIT_FAILED
            await asyncio.sleep(0.2)
        if action == "terminate" and current.status is WorkflowStatus.COMPLETE:
            out.print(f"{label} completed before it could be terminated", highlight=False)
            return EXIT_FAILED
        out.print(f"{label} is {current.status.value}", highlight=False)
        return EXIT_OK if _reached(current, action) else EXIT_FAILED
    finally:
        await host.queue.stop()
        await host.lock.stop()
        await host.persistence.close()


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=DB_HELP)
def terminate(run_id: str, db: str | None) -> None:
    """Terminate run ID (id or name): its running steps are cancelled and it ends Terminated."""
    store = store_of(run_id, db)
    raise click.exceptions.Exit(run_async(lambda: _steer(store, run_id, "terminate")))


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=DB_HELP)
def suspend(run_id: str, db: str | None) -> None:
    """Suspend run ID (id or name) once its running steps end; wfe resume ID goes on with it."""
    store = store_of(run_id, db)
    raise click.exceptions.Exit(run_async(lambda: _steer(store, run_id, "suspend")))
