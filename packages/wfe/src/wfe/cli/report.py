"""The end of ``wfe run`` / ``wfe resume``: the final tree, the errors, the status line and the exit status."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from wfe.cli.common import with_persistence
from wfe.cli.progress import ProgressView
from wfe.cli.runs import DEFAULT_STORE
from wfe.cli.session import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, resume_hint
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider


async def report(console: Console, view: ProgressView, *, store: str, code: int, instance_id: str) -> int:
    view.summary()

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, list[Any]]:
        instance = await persistence.get_workflow(instance_id)
        return instance, list(await persistence.get_errors(instance.id))

    instance, errors = await with_persistence(store, read)
    label = instance.name or instance.id
    if code == EXIT_INTERRUPTED:
        if instance.status in (WorkflowStatus.RUNNABLE, WorkflowStatus.SUSPENDED):
            console.print(f"interrupted: {label} is {instance.status.value}", highlight=False)
            resume_hint(console, instance, store, DEFAULT_STORE)
            return code
        # The steps still running when the interrupt came were given time to finish, and the run ended.
        code = EXIT_OK if instance.status is WorkflowStatus.COMPLETE else EXIT_FAILED
    for error in errors[-5:]:
        console.print(f"error: {error.message.strip()}", style="red", highlight=False, markup=False)
    if instance.status is WorkflowStatus.COMPLETE:
        console.print(f"{label} completed", style="green", highlight=False)
        return EXIT_OK
    console.print(f"{label} ended {instance.status.value}", style="red", highlight=False)
    if instance.status is WorkflowStatus.SUSPENDED:
        resume_hint(console, instance, store, DEFAULT_STORE)
    return code
