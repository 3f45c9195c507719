"""The JSON shapes the API answers with: definitions, instance summaries and details, pointer trees, logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wfe_core.definition import WorkflowDefinition
from wfe_core.graph import step_label
from wfe_core.models import ExecutionError, ExecutionPointer, WorkflowInstance


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def definition_json(definition: WorkflowDefinition, names: dict[str, str]) -> dict[str, Any]:
    """``names``: display names by definition id (a YAML workflow's ``name:``); the id otherwise."""
    return {
        "id": definition.id,
        "version": definition.version,
        "name": names.get(definition.id, definition.id),
        "description": definition.description,
        "step_count": len(definition.steps),
    }


def summary_json(instance: WorkflowInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "name": instance.name,
        "definition_id": instance.workflow_definition_id,
        "version": instance.version,
        "status": instance.status.value,
        "reference": instance.reference,
        "create_time": iso(instance.create_time),
        "complete_time": iso(instance.complete_time),
    }


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def _step_name(pointer: ExecutionPointer, definition: WorkflowDefinition | None) -> str:
    if pointer.step_name:
        return pointer.step_name
    if definition is not None:
        step = definition.find_step(pointer.step_id)
        if step is not None:
            return step_label(step)
    return f"step {pointer.step_id}"


def pointer_tree(instance: WorkflowInstance, definition: WorkflowDefinition | None) -> list[dict[str, Any]]:
    """The pointers nested under the container pointer that opened them (the innermost of their scope)."""
    nodes: dict[str, dict[str, Any]] = {}
    for pointer in instance.execution_pointers:
        nodes[pointer.id] = {
            "id": pointer.id,
            "step_id": pointer.step_id,
            "step": _step_name(pointer, definition),
            "status": pointer.status.value,
            "start_time": iso(pointer.start_time),
            "end_time": iso(pointer.end_time),
            "duration_ms": duration_ms(pointer.start_time, pointer.end_time),
            "attempts": pointer.retry_count + (1 if pointer.start_time is not None else 0),
            "outcome": pointer.outcome,
            "children": [],
        }
    roots: list[dict[str, Any]] = []
    for pointer in instance.execution_pointers:
        parent = pointer.scope[0] if pointer.scope else None
        if parent is not None and parent in nodes:
            nodes[parent]["children"].append(nodes[pointer.id])
        else:
            roots.append(nodes[pointer.id])
    return roots


def error_json(error: ExecutionError, steps: dict[str, str]) -> dict[str, Any]:
    """An error with its step, its type (the message's leading ``Type:``), message and traceback."""
    text = error.message.strip()
    first, _, rest = text.partition("\n")
    kind, sep, message = first.partition(": ")
    if not sep or " " in kind:
        kind, message = "Error", first
    return {
        "step": steps.get(error.execution_pointer_id or "", None),
        "pointer_id": error.execution_pointer_id,
        "time": iso(error.error_time),
        "type": kind,
        "message": message,
        "traceback": rest.strip() or None,
    }


def outputs(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if not (isinstance(k, str) and k.endswith((".stdout", ".stderr")))}


def detail_json(
    instance: WorkflowInstance, errors: list[ExecutionError], definition: WorkflowDefinition | None
) -> dict[str, Any]:
    steps = {p.id: _step_name(p, definition) for p in instance.execution_pointers}
    data = instance.data_json()
    return {
        **summary_json(instance),
        "description": instance.description,
        "data": data,
        "outputs": outputs(data),
        "pointers": pointer_tree(instance, definition),
        "errors": [error_json(error, steps) for error in errors],
    }


def recorded_logs(instance: WorkflowInstance, definition: WorkflowDefinition | None) -> list[dict[str, Any]]:
    """The recorded ``<step>.stdout`` / ``<step>.stderr`` of the steps that finished, in pointer order."""
    data = instance.data_json()
    if not isinstance(data, dict):
        return []
    found = []
    seen: set[str] = set()
    for pointer in instance.execution_pointers:
        name = _step_name(pointer, definition)
        if name in seen:
            continue
        seen.add(name)
        for stream in ("stdout", "stderr"):
            text = data.get(f"{name}.{stream}")
            if isinstance(text, str) and text:
                found.append({"step": name, "stream": stream, "text": text})
    return found
