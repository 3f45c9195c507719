"""Merging a step's ``ExecutionResult.output_data`` into the workflow data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from wfe_core.errors import WorkflowDataError
from wfe_core.models import WorkflowInstance


def merge_output_data(instance: WorkflowInstance, output_data: Any) -> None:
    """Merge ``output_data`` into ``instance.data``: a shallow merge, its top-level keys overwrite.

    - dict data: ``data[key] = value`` for each key;
    - pydantic-model data: each key must be a field of the model (or the model allows extra fields); the merged
      values are validated as the model validates its input (``"3"`` becomes ``3`` for an ``int`` field), and
      ``instance.data`` becomes the validated model. Nothing is changed when a key or a value is refused.

    Raises:
        WorkflowDataError: ``output_data`` is not a dict, names no field of the model, or a value does not
            validate; the step that returned it fails (its error behaviour applies).
    """
    if not isinstance(output_data, Mapping):
        raise WorkflowDataError(
            f"output_data must be a dict of top-level keys to merge into the data, not "
            f"{type(output_data).__name__}: return ExecutionResult.next(output_data={{'key': value}})"
        )
    if not output_data:
        return
    data = instance.data
    if isinstance(data, dict):
        data.update(output_data)
        return
    if isinstance(data, BaseModel):
        instance.data = _merged_model(data, output_data)
        return
    raise WorkflowDataError(
        f"output_data can be merged only into dict or pydantic-model data, not {type(data).__name__}"
    )


def _merged_model(data: BaseModel, output_data: Mapping[str, Any]) -> BaseModel:
    model = type(data)
    fields = model.model_fields
    if model.model_config.get("extra") != "allow":
        unknown = sorted(str(key) for key in output_data if key not in fields)
        if unknown:
            raise WorkflowDataError(
                f"output_data key(s) {', '.join(unknown)} are not fields of {model.__name__}: add them to "
                f"the model, or return only its fields ({', '.join(fields) or 'none'})"
            )
    values: dict[str, Any] = {name: getattr(data, name) for name in fields}
    values.update(data.model_extra or {})
    values.update(output_data)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise WorkflowDataError(
            f"output_data does not fit {model.__name__}: {exc.error_count()} error(s): "
            f"{_first_error(exc)}; return values of the fields' types"
        ) from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}"
