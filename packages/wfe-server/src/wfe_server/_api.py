"""The JSON API under ``/api/v1`` and ``/healthz``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import (
    ValueRefusedError,
    WorkflowDataError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
)
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_server._broker import Broker
from wfe_server._errors import ApiError, conflict, not_found, unprocessable
from wfe_server._openapi import openapi_document
from wfe_server._requests import (
    MAX_SKIP,
    MAX_TAKE,
    EventRequest,
    StartRequest,
    path_version,
    query_format,
    query_int,
    query_status,
    read_json,
)
from wfe_server._views import definition_json, detail_json, recorded_logs, summary_json

if TYPE_CHECKING:
    from wfe import WorkflowHost

ENDED = (WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED)
SCAN_LIMIT = 2000
"""How many of the newest instances a listing filters in memory when the host has no search index."""
HEARTBEAT_SECONDS = 15.0


@dataclass(slots=True)
class ServerState:
    """What the routes work on: the host, the broker, and display names of definitions."""

    host: WorkflowHost
    broker: Broker
    names: dict[str, str] = field(default_factory=dict)
    schema: dict[str, Any] | None = None


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.wfe
    return state


async def _instance(state: ServerState, id_or_name: str) -> WorkflowInstance:
    try:
        return state.broker.overlay(await state.host.persistence.get_workflow(id_or_name))
    except WorkflowNotFoundError as exc:
        raise not_found(f"no workflow instance with id or name {id_or_name!r}") from exc


def _definition_of(state: ServerState, instance: WorkflowInstance) -> WorkflowDefinition | None:
    found: WorkflowDefinition | None = state.host.registry.find(
        instance.workflow_definition_id, instance.version
    )
    return found


def _graph(definition: WorkflowDefinition, fmt: str, instance: WorkflowInstance | None = None) -> Response:
    if fmt == "dot":
        return Response(definition.to_dot(instance), media_type="text/vnd.graphviz")
    return Response(definition.to_svg(instance), media_type="image/svg+xml")


# -- definitions ---------------------------------------------------------------------------------------------


async def list_definitions(request: Request) -> JSONResponse:
    state = state_of(request)
    definitions = sorted(state.host.registry.all(), key=lambda d: (d.id, d.version))
    return JSONResponse([definition_json(d, state.names) for d in definitions])


async def definition_graph(request: Request) -> Response:
    state = state_of(request)
    fmt = query_format(request)
    definition_id = request.path_params["definition_id"]
    version = path_version(request.path_params["version"])
    definition = state.host.registry.find(definition_id, version)
    if definition is None:
        raise not_found(f"no definition {definition_id!r} version {version} is registered")
    return _graph(definition, fmt)


# -- instances -----------------------------------------------------------------------------------------------


async def start_workflow(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await read_json(request, StartRequest)
    if state.host.registry.find(body.definition_id, body.version) is None:
        which = body.definition_id + (f" version {body.version}" if body.version is not None else "")
        raise not_found(f"definition_id: no definition {which} is registered")
    try:
        workflow_id = await state.host.start_workflow(
            body.definition_id, body.version, body.data, reference=body.reference
        )
    except WorkflowNotRegisteredError as exc:
        raise not_found(f"definition_id: {exc}") from exc
    except (WorkflowDataError, ValueRefusedError, ValueError) as exc:
        raise unprocessable(f"data: {exc}") from exc
    instance = await state.host.persistence.get_workflow(workflow_id)
    return JSONResponse({"id": workflow_id, "name": instance.name}, status_code=201)


def _matches(instance: WorkflowInstance, reference: str | None, words: list[str]) -> bool:
    if reference is not None and instance.reference != reference:
        return False
    if not words:
        return True
    text = " ".join(
        str(part or "")
        for part in (
            instance.id,
            instance.name,
            instance.workflow_definition_id,
            instance.reference,
            instance.description,
            json.dumps(instance.data_json(), default=str),
        )
    ).lower()
    return all(word in text for word in words)


async def list_workflows(request: Request) -> JSONResponse:
    """Newest first. With a search index on the host, through the host's search; else the newest
    ``SCAN_LIMIT`` instances of the store filtered here."""
    state = state_of(request)
    status = query_status(request)
    definition_id = request.query_params.get("definition_id") or None
    reference = request.query_params.get("reference") or None
    terms = request.query_params.get("q", "").strip()
    skip = query_int(request, "skip", 0, 0, MAX_SKIP)
    take = query_int(request, "take", 50, 1, MAX_TAKE)
    host = state.host
    if host.search_index is not None:
        from wfe_core.models import DefinitionFilter, ReferenceFilter, SearchFilter, StatusFilter

        filters: list[SearchFilter] = []
        if status is not None:
            filters.append(StatusFilter(status=status))
        if definition_id is not None:
            filters.append(DefinitionFilter(definition_id=definition_id))
        if reference is not None:
            filters.append(ReferenceFilter(reference=reference))
        page = await host.search(terms, skip, take, filters)
        items = []
        for result in page.data:
            try:
                items.append(summary_json(await host.persistence.get_workflow(result.id)))
            except WorkflowNotFoundError:
                continue
        more = skip + len(page.data) < page.total
        return JSONResponse({"items": items, "total": page.total, "more": more, "skip": skip, "take": take})
    words = [word.lower() for word in terms.split()]
    if reference is None and not words:
        instances = await host.persistence.list_workflows(
            status=status, definition_id=definition_id, skip=skip, take=take + 1
        )
        more = len(instances) > take
        items = [summary_json(i) for i in instances[:take]]
        # without a count in the store: a lower bound, one past this page when there are more
        total = skip + len(items) + (1 if more else 0)
        return JSONResponse({"items": items, "total": total, "more": more, "skip": skip, "take": take})
    scanned = await host.persistence.list_workflows(
        status=status, definition_id=definition_id, take=SCAN_LIMIT
    )
    found = [i for i in scanned if _matches(i, reference, words)]
    items = [summary_json(i) for i in found[skip : skip + take]]
    more = skip + len(items) < len(found)
    return JSONResponse({"items": items, "total": len(found), "more": more, "skip": skip, "take": take})


async def get_workflow(request: Request) -> JSONResponse:
    state = state_of(request)
    instance = await _instance(state, request.path_params["id_or_name"])
    errors = list(await state.host.persistence.get_errors(instance.id))
    return JSONResponse(detail_json(instance, errors, _definition_of(state, instance)))


async def workflow_graph(request: Request) -> Response:
    state = state_of(request)
    fmt = query_format(request)
    instance = await _instance(state, request.path_params["id_or_name"])
    definition = _definition_of(state, instance)
    if definition is None:
        raise conflict(
            f"definition {instance.workflow_definition_id} version {instance.version} is not registered on "
            "this server: serve its file to see its graph"
        )
    return _graph(definition, fmt, instance)


async def workflow_logs(request: Request) -> JSONResponse:
    """The recorded output of the finished steps, then the lines of running steps seen on this server."""
    state = state_of(request)
    instance = await _instance(state, request.path_params["id_or_name"])
    step = request.query_params.get("step") or None
    definition = _definition_of(state, instance)
    recorded = [
        entry for entry in recorded_logs(instance, definition) if step is None or entry["step"] == step
    ]
    done = {entry["step"] for entry in recorded}
    live = [line for line in state.broker.lines(instance.id, step) if line["step"] not in done]
    return JSONResponse({"id": instance.id, "recorded": recorded, "live": live})


async def _control(request: Request, action: str) -> JSONResponse:
    state = state_of(request)
    instance = await _instance(state, request.path_params["id_or_name"])
    if instance.status in ENDED:
        raise conflict(
            f"workflow {instance.name or instance.id} has ended ({instance.status.value}): cannot {action}"
        )
    # Resuming what is not suspended (or suspending it again) is a no-op the host would wait on the run's
    # lease for: answered here.
    if (action == "resume") != (instance.status is WorkflowStatus.SUSPENDED) and action != "terminate":
        return JSONResponse({"accepted": False})
    host = state.host
    method = {
        "suspend": host.suspend_workflow,
        "resume": host.resume_workflow,
        "terminate": host.terminate_workflow,
    }[action]
    accepted = await method(instance.id)
    return JSONResponse({"accepted": bool(accepted)})


async def suspend(request: Request) -> JSONResponse:
    return await _control(request, "suspend")


async def resume(request: Request) -> JSONResponse:
    return await _control(request, "resume")


async def terminate(request: Request) -> JSONResponse:
    return await _control(request, "terminate")


# -- events, stream, schema, health --------------------------------------------------------------------------


async def publish_event(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await read_json(request, EventRequest)
    try:
        event_id = await state.host.publish_event(body.name, body.key, body.data, body.effective_date)
    except (
        WorkflowDataError,
        ValueRefusedError,
    ) as exc:  # e.g. a NUL character, which PostgreSQL cannot keep
        raise unprocessable(f"body: {exc}") from exc
    return JSONResponse({"id": event_id}, status_code=202)


async def stream(request: Request) -> StreamingResponse:
    """Server-Sent Events: ``lifecycle`` (a lifecycle event) and ``log`` (a step log line) messages, for one
    workflow with ``?workflow_id=``; a comment every 15 s keeps proxies from closing the connection."""
    state = state_of(request)
    workflow_id = request.query_params.get("workflow_id") or None
    subscriber = state.broker.subscribe(workflow_id)

    async def messages() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                try:
                    # not wait_for, which on Python 3.11 drops a cancel (the client went away) that lands as a
                    # message arrives, and the stream would go on
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        message = await subscriber.queue.get()
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                yield message.encode()
        finally:
            state.broker.unsubscribe(subscriber)

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def workflow_schema(request: Request) -> JSONResponse:
    state = state_of(request)
    if state.schema is None:
        try:
            import wfe_yaml
        except ImportError as exc:
            raise ApiError(
                404, "NotFound", 'the YAML schema needs the wfe-yaml package: pip install "wfe[yaml]"'
            ) from exc
        state.schema = wfe_yaml.json_schema()
    return JSONResponse(state.schema)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


async def healthz(request: Request) -> JSONResponse:
    state = state_of(request)
    if not getattr(state.host, "_started", False):
        return JSONResponse({"status": "stopped"}, status_code=503)
    try:
        await asyncio.wait_for(state.host.persistence.list_workflows(take=1), 5.0)
    except Exception as exc:  # the store does not answer: unhealthy, whatever the cause
        return JSONResponse({"status": "store unavailable", "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


API = "/api/v1"
ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route(f"{API}/openapi.json", openapi, methods=["GET"]),
    Route(f"{API}/definitions", list_definitions, methods=["GET"]),
    Route(f"{API}/definitions/{{definition_id}}/{{version}}/graph", definition_graph, methods=["GET"]),
    Route(f"{API}/workflows", start_workflow, methods=["POST"]),
    Route(f"{API}/workflows", list_workflows, methods=["GET"]),
    Route(f"{API}/workflows/{{id_or_name}}", get_workflow, methods=["GET"]),
    Route(f"{API}/workflows/{{id_or_name}}/graph", workflow_graph, methods=["GET"]),
    Route(f"{API}/workflows/{{id_or_name}}/logs", workflow_logs, methods=["GET"]),
    Route(f"{API}/workflows/{{id_or_name}}/suspend", suspend, methods=["POST"]),
    Route(f"{API}/workflows/{{id_or_name}}/resume", resume, methods=["POST"]),
    Route(f"{API}/workflows/{{id_or_name}}/terminate", terminate, methods=["POST"]),
    Route(f"{API}/events", publish_event, methods=["POST"]),
    Route(f"{API}/stream", stream, methods=["GET"]),
    Route(f"{API}/schema/workflow.json", workflow_schema, methods=["GET"]),
]
