"""``wfe fork``: a new run of a run's pipeline that keeps the steps before a chosen one and goes on there."""

from __future__ import annotations

import os
from pathlib import Path

import click

from wfe._host import WorkflowHost
from wfe.cli.ci import ci_from_env
from wfe.cli.common import DB_HELP, cli, console, fail, load, require_or_exit, run_async, with_persistence
from wfe.cli.control import Requests
from wfe.cli.inspecting import store_of
from wfe.cli.pipelines import Pipeline, new_reference, own_runs, recorded
from wfe.cli.progress import ProgressView
from wfe.cli.report import report
from wfe.cli.runs import RunRecord, runs_dir
from wfe.cli.session import Interrupt, follow, register, run_host
from wfe_core.errors import HostError
from wfe_core.models import WorkflowInstance
from wfe_core.protocols import PersistenceProvider


def _top_level(host: WorkflowHost, run: WorkflowInstance, step: str) -> str:
    """The step to fork from for pipeline step ``step``: a step with hooks (``on_failure``, ``ensure``) runs
    inside a group of its own, ``<step>:hooks``, which starts with it."""
    definition = host.registry.find(run.workflow_definition_id, run.version)
    if definition is not None and any(s.name == f"{step}:hooks" for s in definition.steps):
        return f"{step}:hooks"
    return step


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--from", "from_step", required=True, metavar="STEP", help="The step to run again from.")
@click.option("--db", help=f"{DB_HELP} Only needed when the run was started in another directory.")
@click.option("-v", "--verbose", is_flag=True, help="Also print the engine's ##wfe[...] lines.")
def fork(run_id: str, from_step: str, db: str | None, verbose: bool) -> None:
    """Start a new run of run ID's pipeline (as it was started) that keeps the steps before STEP, with the
    run's data as it is now, and runs from STEP on here, to its end. ID stays as it is."""
    require_or_exit()
    store = store_of(run_id, db)

    async def read(persistence: PersistenceProvider) -> tuple[WorkflowInstance, Pipeline | None]:
        instance = await persistence.get_workflow(run_id)
        return instance, await recorded(persistence, instance)

    original, recording = run_async(lambda: with_persistence(store, read))
    label = original.name or original.id
    if recording is None:
        raise fail(
            f"{label} has no recorded pipeline in {store}: it was not started by 'wfe run' (fork it with "
            "WorkflowHost.fork_workflow from the application that started it)"
        )
    workflows = load(Path(recording.path), recording.vars, recording.read)
    reference = new_reference(recording)
    out = console()
    view = ProgressView(out, verbose=verbose, ci=ci_from_env(os.environ))

    async def main() -> int:
        host = run_host(store, view, own_runs(reference=reference))
        register(host, workflows)
        with Interrupt() as interrupt:
            async with host:
                view.hold()
                try:
                    fork_id = await host.fork_workflow(
                        original.id, _top_level(host, original, from_step), reference=reference
                    )
                except HostError as exc:
                    raise fail(str(exc)) from None
                view.follow(fork_id)
                definition = host.registry.find(original.workflow_definition_id, original.version)
                if definition is not None:
                    view.plan(definition)
                forked = await host.get_workflow(fork_id)
                RunRecord(
                    id=forked.id,
                    name=forked.name,
                    pipeline=recording.path,
                    workflow=original.workflow_definition_id,
                    store=store,
                    vars=recording.vars,
                ).save(runs_dir())
                out.print(
                    f"forked {forked.name or forked.id} from {label} at step {from_step} in {store}",
                    highlight=False,
                )
                view.release()
                with view:
                    code = await follow(host, fork_id, view, interrupt, Requests(host, fork_id).apply)
        return await report(out, view, store=store, code=code, instance_id=fork_id)

    raise click.exceptions.Exit(run_async(main))
