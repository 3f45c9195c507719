"""The definitions a host knows, by id and version."""

from __future__ import annotations

from typing import Any

from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import DefinitionError, WorkflowNotRegisteredError


def as_definition(workflow: Any) -> WorkflowDefinition:
    """A WorkflowDefinition, or an object carrying one as ``.definition`` (a compiled YAML workflow)."""
    if isinstance(workflow, WorkflowDefinition):
        return workflow
    inner = getattr(workflow, "definition", None)
    if isinstance(inner, WorkflowDefinition):
        return inner
    raise TypeError(
        f"not a workflow definition: {workflow!r} (build one with WorkflowBuilder(...).build(id, version))"
    )


class WorkflowRegistry:
    def __init__(self) -> None:
        self._definitions: dict[tuple[str, int], WorkflowDefinition] = {}

    def register(self, definition: WorkflowDefinition, *, replace: bool = False) -> None:
        key = (definition.id, definition.version)
        if key in self._definitions and not replace and self._definitions[key] is not definition:
            raise DefinitionError(
                f"workflow '{definition.id}' version {definition.version} is already registered "
                "(bump the version, or pass replace=True)"
            )
        self._definitions[key] = definition

    def find(self, definition_id: str, version: int | None = None) -> WorkflowDefinition | None:
        if version is not None:
            return self._definitions.get((definition_id, version))
        versions = [v for (d, v) in self._definitions if d == definition_id]
        return self._definitions[(definition_id, max(versions))] if versions else None

    def get(self, definition_id: str, version: int | None = None) -> WorkflowDefinition:
        definition = self.find(definition_id, version)
        if definition is None:
            raise WorkflowNotRegisteredError(definition_id, version)
        return definition

    def all(self) -> list[WorkflowDefinition]:
        return list(self._definitions.values())
