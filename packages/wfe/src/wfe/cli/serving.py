"""``wfe serve --dir``: a long-running host for every YAML workflow of a folder, whose files may change.

A run stays on the definition it started with. Each workflow's content (its validated spec, variables filled
in) gets a definition version of its own, recorded in the store as an already-processed event ``wfe.version``
keyed by the workflow id: the file's ``version`` while no other content has been served under it, else the
next free one. Served again unchanged, a workflow gets the same version; changed, a new one, while the runs of
the earlier versions that have not ended are still run with the content they started with (reloaded from the
recording of their pipeline files, see :mod:`wfe.cli.pipelines`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from wfe._host import WorkflowHost
from wfe.cli.common import VAR_HELP, cli, console, fail, load, require_or_exit, run_async, store_or_exit
from wfe.cli.extras import USAGE_ERROR, MissingExtraError, require_server
from wfe.cli.pipelines import (
    KEEP_UNTIL,
    SINCE,
    UNFINISHED,
    Pipeline,
    Recorder,
    digest_of,
    recording,
    save,
)
from wfe.cli.progress import ProgressView
from wfe.cli.session import EXIT_OK, Interrupt, build_host
from wfe.cli.variables import parse_vars
from wfe_core.definition import WorkflowDefinition
from wfe_core.models import Event
from wfe_core.protocols import PersistenceProvider, ScheduleStore

VERSION_EVENT = "wfe.version"


def content_digest(workflow: Any) -> str:
    """The identity of a compiled workflow's content: a hash of its validated spec."""
    spec = json.dumps(workflow.spec.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(spec.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Served:
    """A workflow as served: its file, its content's version, and the pipeline recording it came from."""

    workflow: Any
    pipeline: Pipeline

    @property
    def digest(self) -> str:
        return content_digest(self.workflow)


async def _records(persistence: PersistenceProvider, workflow_id: str) -> list[dict[str, Any]]:
    records = []
    for event_id in await persistence.get_events(VERSION_EVENT, workflow_id, SINCE):
        data = (await persistence.get_event(event_id)).event_data
        if isinstance(data, dict):
            records.append(data)
    return records


async def assign_version(host: WorkflowHost, served: Served) -> int:
    """The definition version of this content of the workflow (recorded the first time it is served)."""
    workflow, digest = served.workflow, served.digest
    lease = None
    while lease is None:  # one host at a time picks a version for this workflow id
        lease = await host.lock.acquire(f"wfe:versions:{workflow.id}", host.options.lock_ttl)
        if lease is None:
            await asyncio.sleep(0.1)
    try:
        records = await _records(host.persistence, workflow.id)
        for record in records:
            if record.get("digest") == digest:
                return int(record["version"])
        used = {int(record["version"]) for record in records}
        version: int = workflow.version
        if version in used:
            version = max(max(used) + 1, version)
        await save(host.persistence, served.pipeline)
        await host.persistence.create_event(
            Event(
                event_name=VERSION_EVENT,
                event_key=workflow.id,
                event_data={
                    "version": version,
                    "digest": digest,
                    "file_version": workflow.version,
                    "pipeline": served.pipeline.digest,
                },
                event_time=KEEP_UNTIL,
                is_processed=True,
            )
        )
        return version
    finally:
        await host.lock.release(lease)


async def _earlier(host: WorkflowHost, workflow_id: str, current: int) -> list[WorkflowDefinition]:
    """The definitions of earlier contents of the workflow that unfinished runs are still on."""
    versions: set[int] = set()
    for status in UNFINISHED:
        for instance in await host.persistence.list_workflows(
            status=status, definition_id=workflow_id, take=10_000
        ):
            if instance.version != current and digest_of(instance) is None:
                versions.add(instance.version)
    definitions = []
    for record in await _records(host.persistence, workflow_id):
        version = int(record["version"])
        if version not in versions:
            continue
        pipeline = await recording(host.persistence, str(record.get("pipeline", "")))
        if pipeline is None:
            continue
        for workflow in load(Path(pipeline.path), pipeline.vars, pipeline.read):
            if workflow.id == workflow_id and content_digest(workflow) == record.get("digest"):
                definitions.append(replace(workflow.definition, version=version))
    return definitions


async def register_served(host: WorkflowHost, served: list[Served]) -> list[str]:
    """Register every served workflow under its content's version, and the earlier versions unfinished runs
    are on; returns how each is served (``greeting v2``, ``greeting v3 (the file says version 1)``)."""
    names = []
    for item in served:
        workflow = item.workflow
        version = await assign_version(host, item)
        host.register_workflow(replace(workflow.definition, version=version), replace=True)
        for earlier in await _earlier(host, workflow.id, version):
            host.register_workflow(earlier, replace=True)
            names.append(f"{workflow.id} v{earlier.version} (for its unfinished runs)")
        note = "" if version == workflow.version else f" (the file says version {workflow.version})"
        names.append(f"{workflow.id} v{version}{note}")
    return names


def schedule_ids(workflow: Any) -> list[tuple[str, Any]]:
    """(schedule id, spec) of each ``schedule:`` entry of a served workflow: an entry's own ``id``, else the
    workflow id for the first and ``{id}-{n}`` for the n-th."""
    entries = list(getattr(workflow.spec, "schedule", None) or [])
    return [
        (spec.id or (workflow.id if n == 1 else f"{workflow.id}-{n}"), spec)
        for n, spec in enumerate(entries, 1)
    ]


async def register_schedules(host: WorkflowHost, served: list[Served]) -> list[str]:
    """Add the ``schedule:`` entries of the served workflows to the store (re-adding one with the same timing
    keeps its next tick) and remove the schedules of these workflows that their files no longer declare;
    returns the ids of the schedules served."""
    if not isinstance(host.persistence, ScheduleStore):
        return []
    from wfe_yaml.durations import parse_duration  # serve requires wfe-yaml

    wanted: dict[str, str] = {}
    for item in served:
        for schedule_id, spec in schedule_ids(item.workflow):
            every = parse_duration(spec.every) if spec.every is not None else None
            await host.add_schedule(
                schedule_id,
                item.workflow.id,
                cron=spec.cron,
                every=every,
                data=dict(spec.inputs) or None,
                overlap=spec.overlap,
                catch_up=spec.catch_up,
                timezone=spec.timezone,
            )
            wanted[schedule_id] = item.workflow.id
    served_ids = {item.workflow.id for item in served}
    for schedule in await host.list_schedules():
        if schedule.definition_id in served_ids and schedule.schedule_id not in wanted:
            await host.remove_schedule(schedule.schedule_id)
    return sorted(wanted)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """``--http`` and what goes with it."""

    bind: str
    token_file: Path | None
    insecure: bool
    github_secret: str | None
    gitea_secret: str | None


def _http_setup(http: HttpOptions, served: dict[str, Served]) -> tuple[Any, dict[str, Any]]:
    """The wfe_server module and the keyword arguments of its ``start_server`` (exits 2 on a bad option)."""
    try:
        server = require_server()
    except MissingExtraError as exc:
        raise fail(str(exc)) from exc
    try:
        host, port = server.parse_bind(http.bind)
        tokens = server.load_tokens(http.token_file)
        server.check_bind(host, tokens, http.insecure)
    except (ValueError, server.ServerConfigError) as exc:
        raise fail(str(exc)) from exc
    triggers = [
        trigger
        for item in served.values()
        for trigger in server.triggers_from_on(item.workflow.id, getattr(item.workflow.spec, "on", None))
    ]
    options = {
        "bind_host": host,
        "port": port,
        "tokens": tokens,
        "insecure": http.insecure,
        "names": {item.workflow.id: item.workflow.spec.display_name for item in served.values()},
        "triggers": triggers,
        "secrets": server.WebhookSecrets(github=http.github_secret, gitea=http.gitea_secret),
    }
    return server, options


@cli.command()
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--db", required=True, help="Store URL (sqlite:///..., postgresql://...).")
@click.option("--lock", help="Lock URL (default: the store's own, else in-memory).")
@click.option("--queue", help="Queue URL (default: the store's own, else in-memory).")
@click.option("--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help=VAR_HELP)
@click.option(
    "--host-id",
    envvar="WFE_HOST_ID",
    help="This host's stable identity, unique among live hosts (a StatefulSet pod name): restarted with the "
    "same one, it takes over its predecessor's leases at once. Default: $WFE_HOST_ID.",
)
@click.option(
    "--http",
    "http_bind",
    metavar="HOST:PORT",
    help='Also serve the HTTP API, webhooks and dashboard here (needs pip install "wfe[server]").',
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Bearer tokens for the HTTP API, one per line (also: WFE_SERVER_TOKENS).",
)
@click.option(
    "--search",
    metavar="URL",
    help="A search index (sqlite:///<the store's file>, https://opensearch:9200) kept by this host; the HTTP "
    "API lists and searches runs through it.",
)
@click.option("--insecure", is_flag=True, help="Allow --http on a non-loopback address without tokens.")
@click.option("--github-secret", envvar="WFE_GITHUB_SECRET", help="HMAC secret of /hooks/github.")
@click.option("--gitea-secret", envvar="WFE_GITEA_SECRET", help="HMAC secret of /hooks/gitea.")
def serve(
    folder: Path,
    db: str,
    lock: str | None,
    queue: str | None,
    var_pairs: tuple[str, ...],
    host_id: str | None,
    http_bind: str | None,
    search: str | None,
    token_file: Path | None,
    insecure: bool,
    github_secret: str | None,
    gitea_secret: str | None,
) -> None:
    """Run a host for every YAML workflow in FOLDER until SIGTERM or SIGINT, then stop gracefully; with
    --http, also the HTTP API and dashboard."""
    config = parse_vars(var_pairs)
    require_or_exit()
    http = (
        None
        if http_bind is None
        else HttpOptions(http_bind, token_file, insecure, github_secret or None, gitea_secret or None)
    )
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    served: dict[str, Served] = {}
    for file in files:
        recorder = Recorder()
        for workflow in load(file, config, recorder):
            served.setdefault(workflow.id, Served(workflow, recorder.pipeline(file, config)))
    store = store_or_exit(db)
    out = console()
    view = ProgressView(out, live=False)
    view.show_all = True
    server, server_options = _http_setup(http, served) if http is not None else (None, {})
    broker = server.Broker(view) if server is not None else None

    async def main() -> int:
        # The runs of ``wfe run`` and ``wfe resume`` belong to their own processes.
        host = build_host(
            store,
            view,
            lock=lock,
            queue=queue,
            log_sink=broker,
            search=search,
            accept=lambda i: digest_of(i) is None,
            host_id=host_id or None,
        )
        # Registered before the host starts, so that it never takes up a run whose definition it lacks yet.
        await host.persistence.ensure_store_exists()
        await host.lock.start()
        try:
            names = await register_served(host, list(served.values()))
            schedules = await register_schedules(host, list(served.values()))
        finally:
            await host.lock.stop()
        async with host:
            with Interrupt() as interrupt:
                listener = None
                if server is not None:
                    try:
                        listener = await server.start_server(host, broker, **server_options)
                    except OSError as exc:
                        out.print(f"cannot serve HTTP on {http_bind}: {exc.strerror or exc}", highlight=False)
                        return USAGE_ERROR
                out.print(
                    f"serving {len(served)} workflows from {folder} on {store}: {', '.join(names) or 'none'}",
                    highlight=False,
                    soft_wrap=True,
                )
                if schedules:
                    out.print(
                        f"schedules: {', '.join(schedules)} (wfe schedules shows their next firing)",
                        highlight=False,
                        soft_wrap=True,
                    )
                if listener is not None:
                    shown = server_options["bind_host"]
                    shown = f"[{shown}]" if ":" in shown else shown
                    out.print(f"http: listening on http://{shown}:{listener.port}", highlight=False)
                try:
                    await interrupt.event.wait()
                finally:
                    if listener is not None:
                        await listener.stop()
                out.print("stopping: waiting for running steps", highlight=False)
        out.print("stopped", highlight=False)
        return EXIT_OK

    raise click.exceptions.Exit(run_async(main))
