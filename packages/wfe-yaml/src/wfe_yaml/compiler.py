"""Compiling validated workflow specs onto the core builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wfe_yaml.schema import WorkflowSpec
from wfe_yaml.validation import Loc, Located


@dataclass(frozen=True, slots=True)
class CompiledWorkflow:
    """A loaded workflow: its spec and (once compiled) its definition."""

    spec: WorkflowSpec
    source: str
    definition: Any = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version


def compile_workflow(spec: WorkflowSpec, *, located: Located, loc: Loc) -> CompiledWorkflow:
    return CompiledWorkflow(spec, located.source)
