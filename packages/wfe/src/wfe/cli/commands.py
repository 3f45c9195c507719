"""The click commands of ``wfe``: run, resume, list, show, validate, publish, schema, serve."""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from wfe._discovery import PERSISTENCE, resolve
from wfe.cli.extras import USAGE_ERROR, MissingExtraError, require_store, require_yaml
from wfe.cli.progress import ProgressView, pointer_depths, timestamp
from wfe.cli.runs import DEFAULT_STORE, STATE_DIR, RunRecord, runs_dir
from wfe.cli.session import (
    CLI_HOST_OPTIONS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Interrupt,
    build_host,
    continue_run,
    follow,
    register,
    resume_hint,
)
from wfe.cli.variables import flatten_vars, parse_vars
from wfe_core.errors import WfeError, WorkflowNotFoundError
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider

T = TypeVar("T")

_DB_HELP = f"Store URL (default {DEFAULT_STORE}, under the current directory)."
_VAR_HELP = "A pipeline variable for ((key)) / ${{ key }} placeholders; repeat for more (dotted keys nest)."


def _console(*, stderr: bool = False) -> Console:
    # Off a terminal rich assumes 80 columns; ids alone are 36 wide, so give tables room in logs and pipes.
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else 160)


def _fail(message: str, code: int = USAGE_ERROR) -> click.exceptions.Exit:
    # Never wrapped: an error names file:line:column and is read (and grepped) whole, on a terminal or in a log.
    _console(stderr=True).print(message, highlight=False, markup=False, soft_wrap=True)
    return click.exceptions.Exit(code)


def _run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning the CLI's known failures into messages and exit status 2."""
    try:
        return asyncio.run(factory())
    except MissingExtraError as exc:
        raise _fail(str(exc)) from exc
    except WorkflowNotFoundError as exc:
        raise _fail(f"{exc} (wfe list shows the runs in the store)") from exc
    except WfeError as exc:
        raise _fail(str(exc)) from exc


def _store(db: str | None) -> str:
    url = db or DEFAULT_STORE
    require_store(url)
    if db is None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
    return url


def _load(pipeline: Path, config: dict[str, Any], *, strict: bool = False) -> list[Any]:
    """Every workflow of the pipeline file (and its includes), validated; exits 2 with file:line:column.

    What the file asks for that wfe ignores is printed to stderr as ``file:line:column: warning: ...`` (an
    error, exit 2, with ``strict``)."""
    wfe_yaml = require_yaml()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wfe_yaml.YamlWarning)  # printed below, once, in compiler style
            workflows: list[Any] = wfe_yaml.load_workflow_with_includes(pipeline, config, strict=strict)
    except wfe_yaml.YamlError as exc:
        raise _fail(str(exc)) from exc
    console = _console(stderr=True)
    for workflow in workflows:
        for warning in workflow.warnings:
            where = ":".join(str(p) for p in (warning.path, warning.line, warning.column) if p is not None)
            console.print(
                f"{where}: warning: {warning.message}", highlight=False, markup=False, soft_wrap=True
            )
    return workflows


async def _with_persistence(url: str, use: Callable[[PersistenceProvider], Awaitable[T]]) -> T:
    persistence: PersistenceProvider = resolve(PERSISTENCE, url)
    await persistence.ensure_store_exists()
    try:
        return await use(persistence)
    finally:
        await persistence.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wfe")
def cli() -> None:
    """wfe: run and inspect persistent workflows (YAML pipelines) from the command line."""


# -- run / resume ------------------------------------------------------------------------------------------


@cli.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=_VAR_HELP)
@click.option("--workflow", "workflow_id", help="The workflow of the file to start (default: the first).")
@click.option("--db", help=_DB_HELP)
def run(pipeline: Path, var_pairs: tuple[str, ...], workflow_id: str | None, db: str | None) -> None:
    """Validate PIPELINE, run it here with a live progress view; exit 0 when it completes."""
    config = parse_vars(var_pairs)
    require_or_exit()
    workflows = _load(pipeline, config)
    if not workflows:
        raise _fail(f"{pipeline}: no workflow in the file")
    chosen = workflows[0]
    if workflow_id is not None:
        matches = [w for w in workflows if w.id == workflow_id]
        if not matches:
            known = ", ".join(w.id for w in workflows)
            raise _fail(f"{pipeline}: no workflow '{workflow_id}' (the file has: {known})")
        chosen = matches[0]
    store = _store_or_exit(db)
    pipeline_path = str(pipeline.resolve())
    console = _console()
    view = ProgressView(console)

    async def main() -> int:
        host = build_host(store, view, **CLI_HOST_OPTIONS)
        register(host, workflows)
        async with host:
            with Interrupt() as interrupt:
                instance_id = await host.start_workflow(chosen.id, chosen.version)
                view.follow(instance_id)
                view.plan(chosen.definition)
                instance = await host.get_workflow(instance_id)
                RunRecord(
                    id=instance.id,
                    name=instance.name,
                    pipeline=pipeline_path,
                    workflow=chosen.id,
                    store=store,
                    vars=config,
                ).save(runs_dir())
                console.print(
                    f"started {instance.name or instance.id} ({chosen.id} v{chosen.version}) in {store}",
                    highlight=False,
                )
                with view:
                    code = await follow(host, instance.id, view, interrupt)
        return await _report(console, view, host_store=store, code=code, instance_id=instance.id)

    raise click.exceptions.Exit(_run_async(main))


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=f"{_DB_HELP} Only needed when the run has no record under .wfe/runs.")
def resume(run_id: str, db: str | None) -> None:
    """Resume run ID (id or name): reload its pipeline and run it to the end here."""
    record = _find_record(run_id, db)
    require_or_exit()
    pipeline = Path(record.pipeline)
    workflows = _load(pipeline, record.vars)
    store = _store_or_exit(record.store)
    console = _console()
    view = ProgressView(console)

    async def main() -> int:
        host = build_host(store, view, **CLI_HOST_OPTIONS)
        register(host, workflows)
        # Read the run before the host starts, so the message below comes before any step output.
        await host.persistence.ensure_store_exists()
        instance = await host.persistence.get_workflow(record.id)
        if instance.status in (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED):
            console.print(
                f"{instance.name or instance.id} already ended: {instance.status.value}", highlight=False
            )
            await host.persistence.close()
            return EXIT_OK if instance.status is WorkflowStatus.COMPLETE else 1
        view.follow(instance.id)
        definition = host.registry.find(instance.workflow_definition_id, instance.version)
        if definition is not None:
            view.plan(definition)
        async with host:
            with Interrupt() as interrupt:
                console.print(
                    f"resuming {instance.name or instance.id} ({instance.status.value}) from {pipeline}"
                    + "".join(f" --var {pair}" for pair in flatten_vars(record.vars)),
                    highlight=False,
                )
                if instance.status is WorkflowStatus.RUNNABLE:
                    ttl = CLI_HOST_OPTIONS["lock_ttl"].total_seconds()
                    console.print(
                        f"if its last process died mid-step, the step runs again once that process's lease"
                        f" expires (within {ttl:g}s)",
                        style="dim",
                        highlight=False,
                    )
                await continue_run(host, instance)
                with view:
                    code = await follow(host, instance.id, view, interrupt)
        return await _report(console, view, host_store=store, code=code, instance_id=instance.id)

    raise click.exceptions.Exit(_run_async(main))


def require_or_exit() -> None:
    """Exit 2 with the install command when wfe-yaml is missing."""
    try:
        require_yaml()
    except MissingExtraError as exc:
        raise _fail(str(exc)) from exc


def _store_or_exit(db: str | None) -> str:
    try:
        return _store(db)
    except MissingExtraError as exc:
        raise _fail(str(exc)) from exc


def _find_record(run_id: str, db: str | None) -> RunRecord:
    """The run record for an id or a name: by file name, then by the name inside, then via the store."""
    directory = runs_dir()
    record = RunRecord.load(directory, run_id)
    if record is not None:
        return record
    if directory.is_dir():
        named = [
            r
            for path in sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            if (r := RunRecord.load(directory, path.stem)) is not None and r.name == run_id
        ]
        if named:
            return named[0]
    store = _store_or_exit(db)

    async def lookup(persistence: PersistenceProvider) -> WorkflowInstance:
        return await persistence.get_workflow(run_id)

    instance = _run_async(lambda: _with_persistence(store, lookup))
    record = RunRecord.load(directory, instance.id)
    if record is None:
        raise _fail(
            f"{run_id} is in {store} but was not started by 'wfe run' in this directory "
            f"(no {directory / (instance.id + '.json')}): run wfe resume from the directory that started it"
        )
    return record


async def _report(
    console: Console, view: ProgressView, *, host_store: str, code: int, instance_id: str
) -> int:
    view.summary()

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, list[Any]]:
        instance = await persistence.get_workflow(instance_id)
        return instance, list(await persistence.get_errors(instance.id))

    instance, errors = await _with_persistence(host_store, read)
    label = instance.name or instance.id
    if code == EXIT_INTERRUPTED:
        if instance.status in (WorkflowStatus.RUNNABLE, WorkflowStatus.SUSPENDED):
            console.print(f"interrupted: {label} is {instance.status.value}", highlight=False)
            resume_hint(console, instance, host_store, DEFAULT_STORE)
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
        resume_hint(console, instance, host_store, DEFAULT_STORE)
    return code


# -- inspecting ----------------------------------------------------------------------------------------------


@cli.command(name="list")
@click.option("--db", help=_DB_HELP)
@click.option("--status", type=click.Choice([s.value for s in WorkflowStatus], case_sensitive=False))
@click.option("--definition", help="Only runs of this definition id.")
@click.option("--limit", default=50, show_default=True, help="How many runs to show, newest first.")
def list_runs(db: str | None, status: str | None, definition: str | None, limit: int) -> None:
    """List runs in the store, newest first."""
    store = _store_or_exit(db)
    wanted = next((s for s in WorkflowStatus if status and s.value.lower() == status.lower()), None)

    async def read(persistence: PersistenceProvider) -> list[WorkflowInstance]:
        return await persistence.list_workflows(status=wanted, definition_id=definition, take=limit)

    instances = _run_async(lambda: _with_persistence(store, read))
    console = _console()
    if not instances:
        console.print("no runs", highlight=False)
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
    console.print(table)


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=_DB_HELP)
def show(run_id: str, db: str | None) -> None:
    """Show run ID (id or name): its steps with status and times, its errors, its data and outputs."""
    store = _store_or_exit(db)

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, list[Any]]:
        instance = await persistence.get_workflow(run_id)
        return instance, list(await persistence.get_errors(instance.id))

    instance, errors = _run_async(lambda: _with_persistence(store, read))
    console = _console()
    console.print(f"name:       {instance.name}", highlight=False)
    console.print(f"id:         {instance.id}", highlight=False)
    console.print(f"definition: {instance.workflow_definition_id} v{instance.version}", highlight=False)
    console.print(f"status:     {instance.status.value}", highlight=False)
    console.print(f"created:    {timestamp(instance.create_time)}", highlight=False)
    console.print(f"completed:  {timestamp(instance.complete_time)}", highlight=False)
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
    console.print(table)
    if errors:
        console.print("errors:", highlight=False)
        for error in errors:
            console.print(
                f"  {timestamp(error.error_time)}  {error.message.strip()}", highlight=False, markup=False
            )
    console.print("data:", highlight=False)
    click.echo(json.dumps(instance.data_json(), indent=2, sort_keys=True, default=str))


@cli.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=_VAR_HELP)
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
    workflows = _load(pipeline, config, strict=strict)
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
@click.option("--db", help=_DB_HELP)
def publish(event_name: str, event_key: str, data: str | None, db: str | None) -> None:
    """Publish event EVENT with KEY (and JSON DATA) to the runs waiting for it."""
    try:
        payload = None if data is None else json.loads(data)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"DATA is not JSON ({exc.msg} at column {exc.colno}); quote it, e.g. '{{\"ok\": true}}'"
        ) from exc
    store = _store_or_exit(db)
    view = ProgressView(_console())

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

    event_id = _run_async(main)
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
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=_VAR_HELP)
def serve(folder: Path, db: str, lock: str | None, queue: str | None, var_pairs: tuple[str, ...]) -> None:
    """Run a host for every YAML workflow in FOLDER until SIGTERM or SIGINT, then stop gracefully."""
    config = parse_vars(var_pairs)
    require_or_exit()
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    workflows: list[Any] = []
    for file in files:
        workflows.extend(_load(file, config))
    store = _store_or_exit(db)
    console = _console()
    view = ProgressView(console, live=False)
    view.show_all = True

    async def main() -> int:
        host = build_host(store, view, lock=lock, queue=queue)
        register(host, workflows)
        async with host:
            with Interrupt() as interrupt:
                names = ", ".join(f"{w.id} v{w.version}" for w in workflows) or "none"
                console.print(
                    f"serving {len(workflows)} workflows from {folder} on {store}: {names}", highlight=False
                )
                await interrupt.event.wait()
                console.print("stopping: waiting for running steps", highlight=False)
        console.print("stopped", highlight=False)
        return EXIT_OK

    raise click.exceptions.Exit(_run_async(main))


def main() -> None:
    """Entry point of the ``wfe`` console script."""
    sys.exit(cli.main(prog_name="wfe", standalone_mode=True))
