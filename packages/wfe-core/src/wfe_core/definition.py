"""Workflow definitions: the immutable graph of steps a builder produces and the executor walks."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from wfe_core.models import ErrorBehavior
from wfe_core.step import StepBody, StepExecutionContext
from wfe_core.value_copy import copy_value

if TYPE_CHECKING:
    from wfe_core.models import WorkflowInstance


class _NoValue:
    """Marks an outcome that matches every result (a plain "then" edge)."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()

StepFactory = Callable[[], StepBody]
InputMapping = Callable[[StepBody, Any, StepExecutionContext], None]
OutputMapping = Callable[[StepBody, StepExecutionContext], None]


@dataclass(slots=True)
class Outcome:
    """An edge from a step to the next one, taken when the step proceeds with a matching outcome value."""

    next_step: int | None = None
    value: Any = NO_VALUE
    external_next_step_id: str | None = None
    label: str | None = None

    def matches(self, outcome_value: Any) -> bool:
        if self.value is NO_VALUE:
            return True
        return bool(self.value == outcome_value)


@dataclass(slots=True)
class WorkflowStep:
    """One step of a definition. ``children`` holds the entry step id of each branch of a container."""

    id: int
    factory: StepFactory
    name: str | None = None
    external_id: str | None = None
    children: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    inputs: list[InputMapping] = field(default_factory=list)
    outputs: list[OutputMapping] = field(default_factory=list)
    error_behavior: ErrorBehavior | None = None
    compensation_step_id: int | None = None
    resume_children_after_compensation: bool = True
    revert_children_after_compensation: bool = False
    clears_persistence_on_retry: bool = False
    cancel_condition: Callable[[Any], bool] | None = None
    proceed_on_cancel: bool = False
    ends_workflow: bool = False
    is_compensation: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    """The step's static configuration, ``ctx.config`` while it runs (the builder's ``.config({...})``; the YAML
    compiler keeps the step's ``config:`` here)."""
    when: Callable[..., Any] | None = None
    """``when(data, ctx)``: checked when the step is reached (not on the later runs of a step that sleeps, waits,
    branches or is retried); false skips the step (its pointer ends SKIPPED) and the workflow goes on after it."""
    produces: tuple[str, ...] = ()
    """Artifacts the step declares it puts: a run that proceeds without them stored fails the step."""
    consumes: tuple[str, ...] = ()
    """Artifacts the step declares it reads: a run starts only when each exists (else the step fails)."""

    def create_body(self) -> StepBody:
        return self.factory()


@dataclass(slots=True)
class WorkflowDefinition:
    """A validated, immutable workflow: steps indexed by id, step 0 is where every instance starts."""

    id: str
    version: int
    steps: list[WorkflowStep]
    data_type: type[BaseModel] | None = None
    description: str | None = None
    default_error_behavior: ErrorBehavior = field(default_factory=ErrorBehavior.retry)
    _cancellable: tuple[WorkflowStep, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def step(self, step_id: int) -> WorkflowStep:
        return self.steps[step_id]

    def find_step(self, step_id: int) -> WorkflowStep | None:
        if 0 <= step_id < len(self.steps):
            return self.steps[step_id]
        return None

    def cancellable_steps(self) -> tuple[WorkflowStep, ...]:
        """The steps with a cancel condition, in step order (worked out once: a definition does not change)."""
        found = self._cancellable
        if found is None:
            found = self._cancellable = tuple(s for s in self.steps if s.cancel_condition is not None)
        return found

    def step_by_external_id(self, external_id: str) -> WorkflowStep | None:
        for s in self.steps:
            if s.external_id == external_id:
                return s
        return None

    def new_data(self, data: Any) -> Any:
        """The instance data for ``data`` given to ``start_workflow``: validated into the data type when there
        is one (None gives a default instance), a dict otherwise."""
        if self.data_type is not None:
            if data is None:
                return self.data_type()
            if isinstance(data, self.data_type):
                return data.model_copy(deep=True)
            if isinstance(data, BaseModel):
                data = data.model_dump(mode="json")
            return self.data_type.model_validate(data)
        if data is None:
            return {}
        if isinstance(data, BaseModel):
            return data.model_dump(mode="json")
        return copy_value(data)

    def to_dot(self, instance: WorkflowInstance | None = None) -> str:
        """The definition as a Graphviz DOT ``digraph``; with ``instance``, each step it reached coloured by
        the status of its latest execution pointer (see :mod:`wfe_core.graph`)."""
        from wfe_core.graph import to_dot

        return to_dot(self, instance)

    def to_svg(self, instance: WorkflowInstance | None = None) -> str:
        """The definition drawn as a standalone SVG document, laid out in pure Python (no Graphviz needed);
        with ``instance``, coloured like :meth:`to_dot`."""
        from wfe_core.graph import to_svg

        return to_svg(self, instance)

    def load_data(self, data: Any) -> Any:
        """Stored JSON data back into the definition's data type."""
        if self.data_type is not None and not isinstance(data, self.data_type):
            return self.data_type.model_validate(data if data is not None else {})
        return data if data is not None else {}


def step_factory(step: type[StepBody] | StepBody | Callable[[], StepBody]) -> StepFactory:
    """A zero-argument factory for a step class, a step instance (copied per run) or a factory callable."""
    if isinstance(step, type):
        if not issubclass(step, StepBody):
            raise TypeError(f"{step.__name__} is not a StepBody subclass")
        return step
    if isinstance(step, StepBody):
        prototype = step
        return lambda: copy.copy(prototype)
    if callable(step):
        return step
    raise TypeError(f"not a step: {step!r}")


def step_display_name(step: type[StepBody] | StepBody | Callable[..., Any]) -> str:
    if isinstance(step, type):
        return step.__name__
    if isinstance(step, StepBody):
        return type(step).__name__
    return getattr(step, "__name__", "step")


def call_flexible(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with as many of ``args`` as it accepts (so ``lambda data: ...`` and
    ``lambda data, ctx: ...`` both work where the spec passes ``(data, ctx)``)."""
    return fn(*args[: _arity(fn, len(args))])


_ARITY_CACHE: dict[Any, int] = {}


def _arity(fn: Callable[..., Any], most: int) -> int:
    key = (getattr(fn, "__code__", None) or fn, most)
    cached = _ARITY_CACHE.get(key)
    if cached is not None:
        return cached
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return most
    count = 0
    for p in params:
        if p.kind in (p.VAR_POSITIONAL,):
            count = most
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    result = min(count, most)
    if len(_ARITY_CACHE) < 10_000:
        _ARITY_CACHE[key] = result
    return result
