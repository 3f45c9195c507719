"""``wfe run`` and ``wfe resume``: run a pipeline here, bound to the exact files and variables it started with."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from wfe.cli.ci import ci_from_env
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
from wfe.cli.control import Requests
from wfe.cli.pipelines import Pipeline, Recorder, new_reference, own_runs, recorded, save, unfinished_runs
from wfe.cli.progress import ProgressView
from wfe.cli.report import report
from wfe.cli.runs import RunRecord, find_record, runs_dir
from wfe.cli.session import (
    CLI_HOST_OPTIONS,
    EXIT_OK,
    Interrupt,
    continue_run,
    follow,
    register,
    run_host,
)
from wfe.cli.state import DEFAULT_STORE
from wfe.cli.variables import flatten_vars, parse_vars
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider

VERBOSE_HELP = "Also print the engine's ##wfe[...] lines (output commands)."


def _vars_text(variables: dict[str, Any]) -> str:
    return "".join(f" --var {pair}" for pair in flatten_vars(variables))


@cli.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
@click.option("--workflow", "workflow_id", help="The workflow of the file to start (default: the first).")
@click.option("--db", help=DB_HELP)
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
def run(
    pipeline: Path, var_pairs: tuple[str, ...], workflow_id: str | None, db: str | None, verbose: bool
) -> None:
    """Validate PIPELINE, run it here with a live progress view; exit 0 when it completes."""
    config = parse_vars(var_pairs)
    require_or_exit()
    recorder = Recorder()
    workflows = load(pipeline, config, recorder)
    if not workflows:
        raise fail(f"{pipeline}: no workflow in the file")
    chosen = workflows[0]
    if workflow_id is not None:
        matches = [w for w in workflows if w.id == workflow_id]
        if not matches:
            known = ", ".join(w.id for w in workflows)
            raise fail(f"{pipeline}: no workflow '{workflow_id}' (the file has: {known})")
        chosen = matches[0]
    store = store_or_exit(db)
    recording = recorder.pipeline(pipeline, config)
    reference = new_reference(recording)
    out = console()
    view = _view(out, verbose)

    async def main() -> int:
        # This host runs only the run it starts (and its sub-workflows): other runs in the store, of this
        # pipeline or another, are left to whoever resumes them.
        host = run_host(store, view, own_runs(reference=reference))
        register(host, workflows)
        with Interrupt(on_first=_stopping(view)) as interrupt:
            async with host:
                await save(host.persistence, recording)
                for other, theirs in await unfinished_runs(host.persistence, recording, chosen.id):
                    label = other.name or other.id
                    out.print(
                        f"{label} is an unfinished run of this pipeline ({other.status.value}"
                        f"{_vars_text(theirs.vars)}), left as it is: wfe resume {label}{_db_option(store)}",
                        style="yellow",
                        highlight=False,
                    )
                view.hold()
                instance_id = await host.start_workflow(chosen.id, chosen.version, reference=reference)
                view.follow(instance_id)
                view.plan(chosen.definition)
                instance = await host.get_workflow(instance_id)
                RunRecord(
                    id=instance.id,
                    name=instance.name,
                    pipeline=recording.path,
                    workflow=chosen.id,
                    store=store,
                    vars=config,
                ).save(runs_dir())
                out.print(
                    f"started {instance.name or instance.id} ({chosen.id} v{chosen.version}) in {store}",
                    highlight=False,
                )
                view.release()
                with view:
                    code = await follow(host, instance.id, view, interrupt, Requests(host, instance.id).apply)
        return await report(out, view, store=store, code=code, instance_id=instance.id)

    raise click.exceptions.Exit(run_async(main))


def _stopping(view: ProgressView) -> Callable[[], None]:
    return lambda: view.message("stopping… (Ctrl-C again to force)", "yellow")


def _view(out: Console, verbose: bool) -> ProgressView:
    return ProgressView(out, verbose=verbose, ci=ci_from_env(os.environ))


def _db_option(store: str) -> str:
    return "" if store == DEFAULT_STORE else f" --db {store}"


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--db", help=f"{DB_HELP} Only needed when the run was started in another directory.")
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
def resume(run_id: str, db: str | None, verbose: bool) -> None:
    """Resume run ID (id or name) with the pipeline and variables it was started with, here, to its end."""
    require_or_exit()
    record = find_record(runs_dir(), run_id) if db is None else None
    store = store_or_exit(db if record is None else record.store)

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, Pipeline | None]:
        instance = await persistence.get_workflow(run_id)
        return instance, await recorded(persistence, instance)

    instance, recording = run_async(lambda: with_persistence(store, read))
    out = console()
    label = instance.name or instance.id
    if instance.status in (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED):
        out.print(f"{label} already ended: {instance.status.value}", highlight=False)
        raise click.exceptions.Exit(EXIT_OK if instance.status is WorkflowStatus.COMPLETE else 1)
    if recording is not None:
        workflows = load(Path(recording.path), recording.vars, recording.read)
        source, variables = Path(recording.path), recording.vars
    else:
        # A run started before runs kept their pipeline in the store: its record says which file and vars.
        legacy = record or RunRecord.load(runs_dir(), instance.id)
        if legacy is None:
            raise fail(
                f"{label} has no recorded pipeline in {store} and no record under {runs_dir()}: it was not "
                "started by 'wfe run' (resume it from the application that started it)"
            )
        source, variables = Path(legacy.pipeline), legacy.vars
        workflows = load(source, variables)
        out.print(f"{label} has no recorded pipeline: loading {source} as it is now", style="yellow")
    view = _view(out, verbose)

    async def main() -> int:
        host = run_host(store, view, own_runs(ids={instance.id}))
        register(host, workflows)
        view.follow(instance.id)
        definition = host.registry.find(instance.workflow_definition_id, instance.version)
        if definition is not None:
            view.plan(definition)
        with Interrupt(on_first=_stopping(view)) as interrupt:
            async with host:
                out.print(
                    f"resuming {label} ({instance.status.value}) from {source}{_vars_text(variables)}",
                    highlight=False,
                )
                _say_changed(out, recording, label)
                if instance.status is WorkflowStatus.RUNNABLE:
                    ttl = CLI_HOST_OPTIONS["lock_ttl"].total_seconds()
                    out.print(
                        f"if its last process died mid-step, the step runs again once that process's lease"
                        f" expires (within {ttl:g}s)",
                        style="dim",
                        highlight=False,
                    )
                await continue_run(host, instance)
                with view:
                    code = await follow(host, instance.id, view, interrupt, Requests(host, instance.id).apply)
        return await report(out, view, store=store, code=code, instance_id=instance.id)

    raise click.exceptions.Exit(run_async(main))


def _say_changed(out: Console, recording: Pipeline | None, label: str) -> None:
    if recording is None:
        return
    changed = recording.changed_on_disk()
    if changed:
        out.print(
            f"{', '.join(changed)} changed since {label} started: it runs with the pipeline it started with "
            "(a new 'wfe run' uses the file as it is now)",
            style="yellow",
            highlight=False,
        )
