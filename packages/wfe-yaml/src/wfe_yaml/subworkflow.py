"""The ``workflow`` step type: start a child workflow and wait for it (``config.workflow``,
``config.workflow_version``). The child starts with a copy of the parent's data; the keys named in the step's
``outputs:`` are copied back from the child's final data."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wfe_core.errors import ConfigurationError
from wfe_core.primitives import SubWorkflow
from wfe_core.step import StepBody


class SubWorkflowConfig(BaseModel):
    """Configuration of a ``type: workflow`` step."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Optional here so that a missing id is reported with the Rust wording by ``validate``.
    workflow: str | None = Field(None, description="Id of the child workflow (required).")
    workflow_version: int | None = Field(
        None, ge=0, description="Version of the child workflow (default: the newest registered)."
    )
    version: int | None = Field(
        None, ge=0, description="Older spelling of workflow_version (accepted for Rust WFE files)."
    )

    @property
    def child_version(self) -> int | None:
        return self.workflow_version if self.workflow_version is not None else self.version


def _parent_data(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return copy.deepcopy(data)


class SubWorkflowBody(SubWorkflow):
    """The core sub-workflow step, exposing the child's final data as ``outputs``."""

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.result) if isinstance(self.result, Mapping) else {}


class SubWorkflowStepType:
    """The ``workflow`` step type (entry point ``wfe.steps: workflow``)."""

    name = "workflow"
    config_model = SubWorkflowConfig
    requires_config = True
    output_keys_filter = True
    """Only the keys the step lists in ``outputs:`` are merged into the parent's data."""

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        if not isinstance(config.get("workflow"), str) or not config["workflow"]:
            return [f"Workflow step '{step_name}' must have 'config.workflow'"]
        if config.get("workflow_version") is not None and config.get("version") is not None:
            return [
                f"Workflow step '{step_name}': give 'config.workflow_version' only "
                "('version' is its older name)"
            ]
        return []

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        parsed = SubWorkflowConfig.model_validate(dict(config))
        if parsed.workflow is None:
            raise ConfigurationError(f"Workflow step '{step_name}' must have 'config.workflow'")
        return SubWorkflowBody(parsed.workflow, parsed.child_version, _parent_data)
