"""The document indexed for one workflow instance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from wfe_core.errors import SearchError
from wfe_core.models import PointerStatus, WorkflowInstance
from wfe_opensearch._data_fields import field_name, format_datetime, parse_iso_datetime, typed_value

_STEP_LISTS = {
    "waiting_steps": PointerStatus.WAITING_FOR_EVENT,
    "sleeping_steps": PointerStatus.SLEEPING,
    "failed_steps": PointerStatus.FAILED,
}


def data_type_of(instance: WorkflowInstance) -> str:
    """The pydantic model's class name for model data, else the definition id (``DataFilter.data_type``)."""
    if isinstance(instance.data, BaseModel):
        return type(instance.data).__name__
    return instance.workflow_definition_id


def build_document(instance: WorkflowInstance) -> dict[str, Any]:
    """The OpenSearch document for ``instance`` (see :data:`wfe_opensearch.MAPPING`).

    The data is converted to JSON first, so an instance indexes the same way whether its data is a live
    pydantic model or the dict a store loaded back. Each data leaf is indexed under its flattened path in the
    object of its type (``data_num``, ``data_str``, ``data_bool``; strings in ISO-8601 form also in
    ``data_date``); every string also goes to ``data_text`` for term search. ``data`` keeps the original JSON
    for results.
    """
    try:
        data = to_jsonable_python(instance.data)
    except PydanticSerializationError as exc:
        raise SearchError(
            f"data of workflow {instance.id} cannot be converted to JSON ({exc}): use JSON-able values or a "
            "pydantic model as workflow data"
        ) from exc
    typed: dict[str, dict[str, list[Any]]] = {
        "data_num": {},
        "data_str": {},
        "data_date": {},
        "data_bool": {},
    }
    texts: list[str] = []
    _collect(data, (), typed, texts)
    document: dict[str, Any] = {
        "id": instance.id,
        "workflow_definition_id": instance.workflow_definition_id,
        "version": instance.version,
        "description": instance.description,
        "reference": instance.reference,
        "status": instance.status.value,
        "create_time": format_datetime(instance.create_time),
        "complete_time": _optional_datetime(instance.complete_time),
        "next_execution": _optional_datetime(instance.next_execution),
        "data": data,
        "data_type": data_type_of(instance),
        "data_text": texts,
    }
    for family, fields in typed.items():
        document[family] = {
            name: values[0] if len(values) == 1 else values for name, values in fields.items()
        }
    for key, status in _STEP_LISTS.items():
        document[key] = [
            {"step_id": p.step_id, "name": p.step_name}
            for p in instance.execution_pointers
            if p.status == status
        ]
    return document


def _optional_datetime(value: Any) -> str | None:
    return None if value is None else format_datetime(value)


def _collect(
    value: Any, path: tuple[str, ...], typed: dict[str, dict[str, list[Any]]], texts: list[str]
) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, (*path, str(key)), typed, texts)
        return
    if isinstance(value, list):
        # Like OpenSearch's own arrays: every element is a value of the same path.
        for item in value:
            _collect(item, path, typed, texts)
        return
    if isinstance(value, str):
        texts.append(value)
    name = field_name(path)
    found = typed_value(value)
    if name is None or found is None:
        return
    family, json_value = found
    typed[family].setdefault(name, []).append(json_value)
    if isinstance(value, str) and (moment := parse_iso_datetime(value)) is not None:
        typed["data_date"].setdefault(name, []).append(format_datetime(moment))
