"""The JSON Schema of the workflow file format, generated from the pydantic models (for editors and CI).

Step ``config:`` is described per shipped step type (``shell``, ``workflow``, and ``deno``/``js`` when its
provider exposes a ``config_model``): an ``if type == X then config matches X's model`` rule for each.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from wfe_yaml.schema import WorkflowFile
from wfe_yaml.step_types import StepTypeImportError, available_step_types, load_step_type

SCHEMA_ID = "https://wfe.dev/schemas/workflow.json"


def _config_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for name in available_step_types():
        try:
            provider = load_step_type(name)
        except StepTypeImportError:
            continue  # an optional provider that is not installed describes nothing
        model = getattr(provider, "config_model", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            models[name] = model
    return models


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file."""
    schema = WorkflowFile.model_json_schema(by_alias=True, mode="validation")
    schema = copy.deepcopy(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "wfe workflow file"
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    # Keys starting with "_" hold anchors for templates at file and workflow level.
    schema["additionalProperties"] = False
    schema["patternProperties"] = {"^_": {}}
    workflow = defs["WorkflowSpec"]
    workflow["additionalProperties"] = False
    workflow["patternProperties"] = {"^_": {}}
    rules: list[dict[str, Any]] = []
    for name, model in sorted(_config_models().items()):
        model_schema = model.model_json_schema(
            by_alias=True, mode="validation", ref_template="#/$defs/{model}"
        )
        for key, value in model_schema.pop("$defs", {}).items():
            defs.setdefault(key, value)
        def_name = f"{model.__name__}"
        defs[def_name] = model_schema
        rules.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": {"config": {"$ref": f"#/$defs/{def_name}"}}},
            }
        )
    if rules:
        defs["StepSpec"]["allOf"] = rules
    return schema
