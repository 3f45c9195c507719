"""The end of ``wfe run`` / ``wfe resume``: the final tree, the errors by step, the outputs, the status line
with the total duration, and the exit status."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from wfe.cli.common import with_persistence
from wfe.cli.formatting import format_duration
from wfe.cli.inspecting import print_errors
from wfe.cli.progress import ProgressView
from wfe.cli.session import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, resume_hint
from wfe.cli.state import DEFAULT_STORE
from wfe.cli.tree import outputs, step_errors
from wfe_core.models import ExecutionError, WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


async def report(console: Console, view: ProgressView, *, store: str, code: int, instance_id: str) -> int:
    view.summary()

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, list[ExecutionError]]:
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
    found = step_errors(instance, errors)
    print_errors(console, [e for e in found if e.retried])
    print_errors(console, [e for e in found if not e.retried])
    produced = outputs(instance.data_json())
    if produced:
        console.print("outputs:", highlight=False)
        for key, value in produced.items():
            console.print(Text(f"  {key} = {_value(value)}"), soft_wrap=True)
    took = ""
    if instance.complete_time is not None:
        took = format_duration((instance.complete_time - instance.create_time).total_seconds())
    if instance.status is WorkflowStatus.COMPLETE:
        console.print(f"{label} completed in {took}", style="green", highlight=False)
        return EXIT_OK
    after = f" after {took}" if took else ""
    console.print(f"{label} ended {instance.status.value}{after}", style="red", highlight=False)
    if instance.status is WorkflowStatus.SUSPENDED:
        resume_hint(console, instance, store, DEFAULT_STORE)
    return code
