"""The document indexed for one workflow instance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from wfe_core.errors import SearchError
from wfe_core.models import PointerStatus, WorkflowInstance, data_strings
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
    ``data_date``); every string also goes to ``data_text`` for term search; ``data_paths`` lists every path
    present and ``data_null`` those holding null. ``data`` keeps the original JSON for results.
    """
    try:
        # JSON has no NaN or infinity; they become null, as pydantic's own JSON mode makes them.
        data = to_jsonable_python(instance.data, inf_nan_mode="null")
    except PydanticSerializationError as exc:
        raise SearchError(
            f"data of workflow {instance.id} cannot be converted to JSON ({exc}): use JSON-able values or a "
            "pydantic model as workflow data"
        ) from exc
    fields = _DataFields()
    fields.collect(data, ())
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
        "data_text": data_strings(data),
        "data_paths": list(fields.paths),
        "data_null": list(fields.nulls),
    }
    for family, values_by_name in fields.typed.items():
        document[family] = {
            name: values[0] if len(values) == 1 else values for name, values in values_by_name.items()
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


class _DataFields:
    """The searchable fields of one instance's JSON data, gathered in one walk."""

    def __init__(self) -> None:
        self.typed: dict[str, dict[str, list[Any]]] = {
            "data_num": {},
            "data_str": {},
            "data_date": {},
            "data_bool": {},
        }
        # dicts keep first-seen order and drop repeats (array elements share their array's paths).
        self.paths: dict[str, None] = {}
        self.nulls: dict[str, None] = {}

    def collect(self, value: Any, path: tuple[str, ...]) -> None:
        name = field_name(path)
        if name is not None:
            self.paths[name] = None
        if isinstance(value, dict):
            for key, item in value.items():
                self.collect(item, (*path, str(key)))
            return
        if isinstance(value, list):
            # Like OpenSearch's own arrays: every element is a value of the same path.
            for item in value:
                self.collect(item, path)
            return
        if name is None:
            return
        if value is None:
            self.nulls[name] = None
            return
        found = typed_value(value)
        if found is None:
            return
        family, json_value = found
        self.typed[family].setdefault(name, []).append(json_value)
        if isinstance(value, str) and (moment := parse_iso_datetime(value)) is not None:
            self.typed["data_date"].setdefault(name, []).append(format_datetime(moment))
