"""The click commands of ``wfe``: validate, publish, graph, schema, serve, and (from their modules) run, resume,
fork, list, show, logs, terminate, suspend and schedules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from wfe.cli import collector
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
)
from wfe.cli.extras import require_yaml
from wfe.cli.variables import parse_vars

# run, resume, fork, list, show, logs, terminate, suspend, schedules and serve are imported when used: see
# LAZY_COMMANDS in wfe.cli.common.

# -- validating, events, the schema ----------------------------------------------------------------------


@cli.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings (keys of the Rust WFE's schema that wfe ignores) as errors.",
)
def validate(pipeline: Path, var_pairs: tuple[str, ...], strict: bool) -> None:
    """Check PIPELINE; errors print as file:line:column: message (exit 2), warnings as
    file:line:column: warning: message (exit 0, or 2 with --strict)."""
    config = parse_vars(var_pairs)
    require_or_exit()
    workflows = load(pipeline, config, strict=strict)
    ids = ", ".join(f"{w.id} v{w.version}" for w in workflows)
    count = sum(len(w.warnings) for w in workflows)
    noted = f"; {count} warning{'s' if count != 1 else ''}" if count else ""
    click.echo(
        f"{pipeline}: ok ({len(workflows)} workflow{'s' if len(workflows) != 1 else ''}: {ids}{noted})"
    )


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
    from wfe.cli.progress import ProgressView
    from wfe.cli.session import build_host

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
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dot", "svg"]),
    default="dot",
    show_default=True,
    help="Output format.",
)
@click.option("--workflow", "workflow_id", help="Only the workflow with this id (needed for SVG of several).")
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
def graph(pipeline: Path, fmt: str, workflow_id: str | None, var_pairs: tuple[str, ...]) -> None:
    """Print the graph of PIPELINE's workflows: Graphviz DOT (one digraph per workflow) or an SVG drawing."""
    config = parse_vars(var_pairs)
    require_or_exit()
    workflows = load(pipeline, config)
    if workflow_id is not None:
        workflows = [w for w in workflows if w.id == workflow_id]
        if not workflows:
            ids = ", ".join(w.id for w in load(pipeline, config))
            raise fail(f"{pipeline} has no workflow {workflow_id} (it has: {ids})")
    if fmt == "svg" and len(workflows) > 1:
        ids = ", ".join(w.id for w in workflows)
        raise fail(f"{pipeline} has several workflows ({ids}): choose one with --workflow ID for SVG")
    for workflow in workflows:
        definition = workflow.definition
        click.echo(definition.to_dot() if fmt == "dot" else definition.to_svg(), nl=False)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the YAML pipeline format (for editors)."""
    require_or_exit()
    click.echo(json.dumps(require_yaml().json_schema(), indent=2))


def main() -> None:
    """Entry point of the ``wfe`` console script."""
    collector.pause()
    try:
        sys.exit(cli.main(prog_name="wfe", standalone_mode=True))
    finally:
        collector.finish()
