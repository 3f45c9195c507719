"""``wfe list``, ``wfe show`` (as text or ``--json``) and ``wfe logs``: reading runs from the store."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wfe.cli.common import DB_HELP, cli, console, fail, run_async, store_or_exit, with_persistence
from wfe.cli.pipelines import Pipeline, recorded
from wfe.cli.progress import format_duration, timestamp
from wfe.cli.runs import find_record, runs_dir
from wfe.cli.tree import StepError, duration_ms, flat, outputs, step_errors
from wfe.cli.variables import flatten_vars
from wfe_core.models import ExecutionError, WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider


def store_of(run_id: str, db: str | None) -> str:
    """``--db``, else the store the run's record in this directory names, else the default."""
    if db is None:
        record = find_record(runs_dir(), run_id)
        if record is not None:
            db = record.store
    return store_or_exit(db)


async def read_run(store: str, run_id: str) -> tuple[WorkflowInstance, list[ExecutionError], Pipeline | None]:
    async def read(
        persistence: PersistenceProvider,
    ) -> tuple[WorkflowInstance, list[ExecutionError], Pipeline | None]:
        instance = await persistence.get_workflow(run_id)
        errors = list(await persistence.get_errors(instance.id))
        return instance, errors, await recorded(persistence, instance)

    return await with_persistence(store, read)


@cli.command(name="list")
@click.option("--db", help=DB_HELP)
@click.option("--status", type=click.Choice([s.value for s in WorkflowStatus], case_sensitive=False))
@click.option("--definition", help="Only runs of this definition id.")
@click.option("--limit", default=50, show_default=True, help="How many runs to show, newest first.")
def list_runs(db: str | None, status: str | None, definition: str | None, limit: int) -> None:
    """List runs in the store, newest first."""
    store = store_or_exit(db)
    wanted = next((s for s in WorkflowStatus if status and s.value.lower() == status.lower()), None)

    async def read(persistence: PersistenceProvider) -> list[WorkflowInstance]:
        return await persistence.list_workflows(status=wanted, definition_id=definition, take=limit)

    instances = run_async(lambda: with_persistence(store, read))
    out = console()
    if not instances:
        out.print("no runs", highlight=False)
        return
    table = Table("name", "id", "definition", "status", "created", "completed")
    for instance in instances:
        table.add_row(
            instance.name,
            instance.id,
            f"{instance.workflow_definition_id} v{instance.version}",
            instance.status.value,
            timestamp(instance.create_time),
            timestamp(instance.complete_time),
        )
    out.print(table)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def show_json(
    instance: WorkflowInstance, errors: list[ExecutionError], pipeline: Pipeline | None
) -> dict[str, Any]:
    """What ``wfe show --json`` prints."""
    steps = []
    for node, depth in flat(instance):
        pointer = node.pointer
        steps.append(
            {
                "name": node.name,
                "depth": depth,
                "status": node.status(instance),
                "started": _iso(pointer.start_time),
                "ended": _iso(pointer.end_time),
                "duration_ms": duration_ms(pointer.start_time, pointer.end_time),
                "attempts": pointer.retry_count + (1 if pointer.start_time is not None else 0),
                "hooks": [child.name for child in node.children] if node.group is not None else [],
            }
        )
    data = instance.data_json()
    return {
        "id": instance.id,
        "name": instance.name,
        "definition": instance.workflow_definition_id,
        "version": instance.version,
        "status": instance.status.value,
        "created": _iso(instance.create_time),
        "completed": _iso(instance.complete_time),
        "duration_ms": duration_ms(instance.create_time, instance.complete_time),
        "forked_from": instance.forked_from,
        "pipeline": None if pipeline is None else {"path": pipeline.path, "vars": pipeline.vars},
        "steps": steps,
        "outputs": outputs(data),
        "errors": [
            {
                "step": error.step,
                "step_id": error.step_id,
                "attempt": error.attempt,
                "time": _iso(error.time),
                "exception_type": error.exception_type,
                "message": error.message.strip(),
                "traceback": error.traceback,
                "retried": error.retried,
            }
            for error in step_errors(instance, errors)
        ],
    }


def print_errors(
    out: Console, errors: list[StepError], *, indent: str = "", tracebacks: bool = False
) -> None:
    """Each error with its step and attempt and the last lines of its stderr; retried ones apart. With
    ``tracebacks``, the recorded traceback of each error that was not retried follows it."""
    for error in errors:
        style = "yellow" if error.retried else "red"
        label = "retried" if error.retried else "error"
        out.print(Text(f"{indent}{label}: {error.describe()}", style=style), soft_wrap=True)
        for line in error.tail():
            out.print(Text(f"{indent}    {line}", style="dim"), soft_wrap=True)
        if tracebacks and not error.retried and error.traceback:
            for line in error.traceback.rstrip().splitlines():
                out.print(Text(f"{indent}    {line}", style="dim"), soft_wrap=True)


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
def show(run_id: str, db: str | None, as_json: bool) -> None:
    """Show run ID (id or name): its steps with status and times, its errors, its outputs and data."""
    store = store_of(run_id, db)
    instance, errors, pipeline = run_async(lambda: read_run(store, run_id))
    if as_json:
        click.echo(json.dumps(show_json(instance, errors, pipeline), indent=2, default=str))
        return
    out = console()
    took = duration_ms(instance.create_time, instance.complete_time)
    out.print(f"name:       {instance.name}", highlight=False)
    out.print(f"id:         {instance.id}", highlight=False)
    out.print(f"definition: {instance.workflow_definition_id} v{instance.version}", highlight=False)
    out.print(f"status:     {instance.status.value}", highlight=False)
    out.print(f"created:    {timestamp(instance.create_time)}", highlight=False)
    out.print(f"completed:  {timestamp(instance.complete_time)}", highlight=False)
    if took is not None:
        out.print(f"duration:   {format_duration(took / 1000)}", highlight=False)
    if instance.forked_from is not None:
        out.print(f"forked from: {instance.forked_from}", highlight=False)
    if pipeline is not None:
        variables = "".join(f" --var {pair}" for pair in flatten_vars(pipeline.vars))
        out.print(f"pipeline:   {pipeline.path}{variables}", highlight=False, markup=False)
    table = Table(
        "step", "status", "started", "ended", "took", "attempts", title="steps", title_justify="left"
    )
    for node, depth in flat(instance):
        pointer = node.pointer
        took_ms = duration_ms(pointer.start_time, pointer.end_time)
        table.add_row(
            "  " * depth + node.name,
            node.status(instance),
            timestamp(pointer.start_time),
            timestamp(pointer.end_time),
            "" if took_ms is None else format_duration(took_ms / 1000),
            str(pointer.retry_count + (1 if pointer.start_time is not None else 0)),
        )
    out.print(table)
    found = step_errors(instance, errors)
    if found:
        out.print("errors:", highlight=False)
        print_errors(out, found, indent="  ", tracebacks=True)
    out.print("outputs:", highlight=False)
    click.echo(json.dumps(outputs(instance.data_json()), indent=2, sort_keys=True, default=str))
    out.print("data:", highlight=False)
    click.echo(json.dumps(instance.data_json(), indent=2, sort_keys=True, default=str))


@cli.command()
@click.argument("run_id", metavar="ID")
@click.argument("step", required=False)
@click.option("--db", help=DB_HELP)
def logs(run_id: str, step: str | None, db: str | None) -> None:
    """Print the recorded output of the steps of run ID (or of STEP alone): stdout, then stderr."""
    store = store_of(run_id, db)
    instance, errors, _ = run_async(lambda: read_run(store, run_id))
    data = instance.data_json()
    data = data if isinstance(data, dict) else {}
    # A step that completed has its output in the data; one that failed, the tails its last error carries.
    failed = {error.step: error for error in step_errors(instance, errors)}
    names = [node.name for node, _ in flat(instance)]
    recorded_names = [
        n for n in dict.fromkeys(names) if f"{n}.stdout" in data or f"{n}.stderr" in data or n in failed
    ]
    if step is not None:
        if step not in recorded_names:
            known = ", ".join(recorded_names) or "none yet"
            where = "is not a step of" if step not in names else "has no recorded output in"
            raise fail(f"{step} {where} {instance.name or instance.id} (steps with output: {known})")
        chosen = [step]
    else:
        chosen = recorded_names
    for name in chosen:
        if step is None:
            click.echo(f"== {name}")
        if f"{name}.stdout" in data or f"{name}.stderr" in data:
            stdout, stderr = str(data.get(f"{name}.stdout") or ""), str(data.get(f"{name}.stderr") or "")
        else:
            error = failed[name]
            click.echo(f"({error.describe()}; the last lines of its output:)")
            stdout, stderr = error.stream("stdout"), error.stream("stderr")
        if stdout:
            click.echo(stdout, nl=not stdout.endswith("\n"))
        if stderr:
            click.echo(stderr, nl=not stderr.endswith("\n"), err=True)
