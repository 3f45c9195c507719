"""The click commands of ``wfe``: run, resume, list, show, validate, publish, schema, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from wfe.cli import running as _running  # noqa: F401  (registers run and resume)
from wfe.cli.common import (
    DB_HELP,
    VAR_HELP,
    cli,
    console,
    fail,
    load,
    require_or_exit,
    run_async,
    store_or_exit,
    with_persistence,
)
from wfe.cli.extras import require_yaml
from wfe.cli.progress import ProgressView, pointer_depths, timestamp
from wfe.cli.session import EXIT_OK, Interrupt, build_host, register
from wfe.cli.variables import parse_vars
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider

# -- inspecting ----------------------------------------------------------------------------------------------


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


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=DB_HELP)
def show(run_id: str, db: str | None) -> None:
    """Show run ID (id or name): its steps with status and times, its errors, its data and outputs."""
    store = store_or_exit(db)

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, list[Any]]:
        instance = await persistence.get_workflow(run_id)
        return instance, list(await persistence.get_errors(instance.id))

    instance, errors = run_async(lambda: with_persistence(store, read))
    out = console()
    out.print(f"name:       {instance.name}", highlight=False)
    out.print(f"id:         {instance.id}", highlight=False)
    out.print(f"definition: {instance.workflow_definition_id} v{instance.version}", highlight=False)
    out.print(f"status:     {instance.status.value}", highlight=False)
    out.print(f"created:    {timestamp(instance.create_time)}", highlight=False)
    out.print(f"completed:  {timestamp(instance.complete_time)}", highlight=False)
    table = Table("step", "status", "started", "ended", "retries", title="steps", title_justify="left")
    depth = pointer_depths(instance)
    for pointer in instance.execution_pointers:
        table.add_row(
            "  " * depth[pointer.id] + (pointer.step_name or f"step {pointer.step_id}"),
            pointer.status.value,
            timestamp(pointer.start_time),
            timestamp(pointer.end_time),
            str(pointer.retry_count),
        )
    out.print(table)
    if errors:
        out.print("errors:", highlight=False)
        for error in errors:
            out.print(
                f"  {timestamp(error.error_time)}  {error.message.strip()}", highlight=False, markup=False
            )
    out.print("data:", highlight=False)
    click.echo(json.dumps(instance.data_json(), indent=2, sort_keys=True, default=str))


@cli.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
def validate(pipeline: Path, var_pairs: tuple[str, ...]) -> None:
    """Check PIPELINE; errors print as file:line:column: message (exit 2)."""
    config = parse_vars(var_pairs)
    require_or_exit()
    workflows = load(pipeline, config)
    ids = ", ".join(f"{w.id} v{w.version}" for w in workflows)
    click.echo(f"{pipeline}: ok ({len(workflows)} workflow{'s' if len(workflows) != 1 else ''}: {ids})")


@cli.command()
@click.argument("event_name", metavar="EVENT")
@click.argument("event_key", metavar="KEY")
@click.argument("data", required=False, metavar="[DATA-JSON]")
@click.option("--db", help=DB_HELP)
def publish(event_name: str, event_key: str, data: str | None, db: str | None) -> None:
    """Publish event EVENT with KEY (and JSON DATA) to the runs waiting for it."""
    try:
        payload = None if data is None else json.loads(data)
    except json.JSONDecodeError as exc:
        raise fail(
            f"DATA is not JSON ({exc.msg} at column {exc.colno}); quote it, e.g. '{{\"ok\": true}}'"
        ) from exc
    store = store_or_exit(db)
    view = ProgressView(console())

    async def main() -> str:
        host = build_host(store, view)
        # Only the store and the queue are needed: the running hosts pick the event up.
        await host.persistence.ensure_store_exists()
        await host.queue.start()
        try:
            return await host.publish_event(event_name, event_key, payload)
        finally:
            await host.queue.stop()
            await host.lock.stop()
            await host.persistence.close()

    event_id = run_async(main)
    click.echo(f"published {event_name} {event_key}: {event_id}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the YAML pipeline format (for editors)."""
    require_or_exit()
    click.echo(json.dumps(require_yaml().json_schema(), indent=2))


# -- serve ----------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--db", required=True, help="Store URL (sqlite:///..., postgresql://...).")
@click.option("--lock", help="Lock URL (default: the store's own, else in-memory).")
@click.option("--queue", help="Queue URL (default: the store's own, else in-memory).")
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
def serve(folder: Path, db: str, lock: str | None, queue: str | None, var_pairs: tuple[str, ...]) -> None:
    """Run a host for every YAML workflow in FOLDER until SIGTERM or SIGINT, then stop gracefully."""
    config = parse_vars(var_pairs)
    require_or_exit()
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    workflows: list[Any] = []
    for file in files:
        workflows.extend(load(file, config))
    store = store_or_exit(db)
    out = console()
    view = ProgressView(out, live=False)
    view.show_all = True

    async def main() -> int:
        host = build_host(store, view, lock=lock, queue=queue)
        register(host, workflows)
        async with host:
            with Interrupt() as interrupt:
                names = ", ".join(f"{w.id} v{w.version}" for w in workflows) or "none"
                out.print(
                    f"serving {len(workflows)} workflows from {folder} on {store}: {names}", highlight=False
                )
                await interrupt.event.wait()
                out.print("stopping: waiting for running steps", highlight=False)
        out.print("stopped", highlight=False)
        return EXIT_OK

    raise click.exceptions.Exit(run_async(main))


def main() -> None:
    """Entry point of the ``wfe`` console script."""
    sys.exit(cli.main(prog_name="wfe", standalone_mode=True))
