"""WorkflowBuilder: where a definition starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from wfe_core.builder.callables import CallableKind, check_step_callable
from wfe_core.builder.step_builder import StepAdder
from wfe_core.definition import WorkflowDefinition, WorkflowStep
from wfe_core.errors import DefinitionError
from wfe_core.models import ErrorBehavior
from wfe_core.step import StepBody


class WorkflowBuilder(StepAdder):
    """``WorkflowBuilder(MyData).start_with(Step)...build("id", 1)``; data is a pydantic model type, or dicts
    when no type is given."""

    def __init__(self, data_type: type[BaseModel] | None = None) -> None:
        self._root = self
        self.data_type = data_type
        self._steps: list[WorkflowStep] = []
        self._started = False
        self._callables: list[tuple[WorkflowStep, Any, CallableKind]] = []
        """The functions and factories steps were given, whose signatures ``build()`` checks."""

    def _new_step(self, factory: Callable[[], StepBody], name: str | None, **fields: Any) -> WorkflowStep:
        step = WorkflowStep(id=len(self._steps), factory=factory, name=name, **fields)
        self._steps.append(step)
        return step

    def _callable_step(self, step: WorkflowStep, fn: Any, kind: CallableKind) -> None:
        """Note that ``step`` runs ``fn`` (``fn(ctx)`` when inline, ``fn()`` for a factory), for build()."""
        self._callables.append((step, fn, kind))

    def _attach(self, step: WorkflowStep) -> None:
        if self._started:
            raise DefinitionError("start_with() was already called: chain further steps with .then(...)")
        if step.id != 0:
            raise DefinitionError("the workflow's first step must be added before any other")
        self._started = True

    def build(
        self,
        definition_id: str,
        version: int = 1,
        *,
        description: str | None = None,
        default_error_behavior: ErrorBehavior | None = None,
    ) -> WorkflowDefinition:
        """Validate and freeze the definition. Raises DefinitionError for an empty workflow, dangling
        ``attach`` ids, duplicate external ids, references to unknown steps, and inline steps that cannot be
        called as ``fn(ctx)`` (or step factories that cannot be called without arguments)."""
        if not self._steps:
            raise DefinitionError(f"workflow '{definition_id}' has no steps: start it with start_with(...)")
        if not definition_id:
            raise DefinitionError("a workflow needs a non-empty id")
        by_external: dict[str, int] = {}
        for step in self._steps:
            if step.external_id is not None:
                if step.external_id in by_external:
                    raise DefinitionError(
                        f"duplicate step id '{step.external_id}' in workflow '{definition_id}'"
                    )
                by_external[step.external_id] = step.id
        for step, fn, kind in self._callables:
            check_step_callable(definition_id, step, fn, kind)
        count = len(self._steps)
        for step in self._steps:
            for outcome in step.outcomes:
                if outcome.external_next_step_id is not None:
                    target = by_external.get(outcome.external_next_step_id)
                    if target is None:
                        raise DefinitionError(
                            f"step '{step.name}' attaches to unknown step id '{outcome.external_next_step_id}'"
                        )
                    outcome.next_step = target
                if outcome.next_step is None or not 0 <= outcome.next_step < count:
                    raise DefinitionError(f"step '{step.name}' has an outcome to an unknown step")
            for child in step.children:
                if not 0 <= child < count:
                    raise DefinitionError(f"step '{step.name}' has an unknown child step {child}")
            if step.compensation_step_id is not None and not 0 <= step.compensation_step_id < count:
                raise DefinitionError(f"step '{step.name}' has an unknown compensation step")
        return WorkflowDefinition(
            id=definition_id,
            version=version,
            steps=list(self._steps),
            data_type=self.data_type,
            description=description,
            default_error_behavior=default_error_behavior or ErrorBehavior.retry(),
        )
