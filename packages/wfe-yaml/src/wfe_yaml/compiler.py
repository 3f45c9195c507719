"""Compiling validated workflow specs onto the core :class:`~wfe_core.builder.WorkflowBuilder`.

- consecutive steps run in order; ``parallel:`` becomes a container whose children start together and are not
  chained to each other;
- ``on_failure`` is the step's compensation (with no explicit ``error_behavior`` the step compensates at
  once, as in the Rust implementation); ``ensure`` runs after the step whatever the outcome: after
  ``on_success`` on success, after ``on_failure`` once the step failed for good; the workflow then carries
  on with the next step (a handled failure, as compensation is in the core);
- ``when`` is checked when the step is reached; false skips it and the workflow continues;
- each step's results (``step.outputs``) are shallow-merged into the workflow data when it proceeds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from wfe_core.builder import StepBuilder, WorkflowBuilder
from wfe_core.builder.step_builder import StepAdder
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import DefinitionError
from wfe_core.models import ErrorBehavior, ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE
from wfe_core.step import StepBody, StepExecutionContext
from wfe_yaml.conditions import evaluate
from wfe_yaml.durations import parse_duration_ms
from wfe_yaml.errors import YamlCompilationError, YamlWarning
from wfe_yaml.located import Loc, Located
from wfe_yaml.schema import Condition, ErrorBehaviorSpec, StepSpec, WorkflowSpec
from wfe_yaml.step_types import load_step_type

"""Set (True) in ``extension_attributes`` of the pointer of a step whose ``when`` condition was false."""
DEFAULT_RETRY_INTERVAL = timedelta(seconds=60)
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
class CompiledWorkflow:
    """A loaded workflow: the core definition plus the YAML metadata.

    Pass it to ``host.register_workflow(compiled)`` (the host registers ``compiled.definition``).
    """

    definition: WorkflowDefinition
    spec: WorkflowSpec
    source: str
    step_types: frozenset[str] = field(default_factory=frozenset)
    warnings: tuple[YamlWarning, ...] = ()
    """What the file asks of this workflow that wfe ignores (keys of the Rust WFE's schema), each naming
    ``file:line:column``."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def name(self) -> str:
        """The display name (the id when the file gives none)."""
        return self.spec.display_name

    @property
    def description(self) -> str | None:
        return self.spec.description


def map_error_behavior(spec: ErrorBehaviorSpec) -> ErrorBehavior:
    """The core error behaviour for a YAML ``error_behavior`` (retry defaults: 60s, 3 retries)."""
    if spec.type == "retry":
        interval = (
            DEFAULT_RETRY_INTERVAL
            if spec.interval is None
            else timedelta(milliseconds=parse_duration_ms(spec.interval))
        )
        retries = DEFAULT_MAX_RETRIES if spec.max_retries is None else spec.max_retries
        return ErrorBehavior.retry(interval, retries)
    if spec.type == "suspend":
        return ErrorBehavior.suspend()
    if spec.type == "terminate":
        return ErrorBehavior.terminate()
    if spec.type == "compensate":
        return ErrorBehavior.compensate()
    raise ValueError(f"Unknown error behavior type: '{spec.type}'")


class ConditionalStep(StepBody):
    run_in_thread: ClassVar[bool] = False

    """Runs ``inner`` only when the step's ``when`` condition holds on the data at the time it is reached;
    otherwise proceeds without running it. A container's condition is checked once, before it branches."""

    def __init__(self, inner: StepBody, condition: Condition) -> None:
        self.inner = inner
        self.condition = condition

    @property
    def outputs(self) -> dict[str, Any]:
        outputs = getattr(self.inner, "outputs", None)
        return dict(outputs) if isinstance(outputs, Mapping) else {}

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult | None:
        started = isinstance(ctx.persistence_data, dict) and bool(ctx.persistence_data.get(CHILDREN_ACTIVE))
        if not started and ctx.persistence_data is None and not evaluate(self.condition, ctx.data):
            return ExecutionResult.skip()
        run = self.inner.run
        # The same policy as the executor's for the inner body: a plain ``run`` may block, so it goes to a
        # worker thread unless its class says it never blocks.
        if inspect.iscoroutinefunction(run):
            result = await run(ctx)
        elif type(self.inner).run_in_thread:
            result = await asyncio.to_thread(run, ctx)
        else:
            result = run(ctx)
        if inspect.isawaitable(result):
            result = await result
        if result is not None and not isinstance(result, ExecutionResult):
            raise TypeError(f"step {self.inner!r} returned {type(result).__name__}, not ExecutionResult")
        return result


def _merge_outputs(keys: frozenset[str] | None) -> Callable[[StepBody, StepExecutionContext], None]:
    def merge(body: StepBody, ctx: StepExecutionContext) -> None:
        outputs = getattr(body, "outputs", None)
        data = ctx.workflow.data
        if not isinstance(outputs, Mapping) or not isinstance(data, dict):
            return
        for key, value in outputs.items():
            if keys is None or key in keys:
                data[key] = value

    return merge


async def _failure_handled(ctx: StepExecutionContext) -> None:
    return None


class _Compiler:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.step_types: set[str] = set()

    @property
    def default_behavior(self) -> ErrorBehavior:
        if self.spec.error_behavior is None:
            return ErrorBehavior.retry(DEFAULT_RETRY_INTERVAL, DEFAULT_MAX_RETRIES)
        return map_error_behavior(self.spec.error_behavior)

    def build(self) -> WorkflowDefinition:
        builder = WorkflowBuilder()
        adder: StepAdder = builder
        for step in self.spec.steps:
            adder = self.step(adder, step, main_path=True)
        return builder.build(
            self.spec.id,
            self.spec.version,
            description=self.spec.description,
            default_error_behavior=self.default_behavior,
        )

    def step(self, adder: StepAdder, spec: StepSpec, *, main_path: bool) -> StepBuilder:
        """Add ``spec`` (and its hooks) after ``adder``; returns the builder the next step chains after.

        A step with hooks becomes a group (a one-branch container) holding ``main -> on_success``, followed by
        ``ensure``; the group's compensation is ``on_failure``. A failure inside the group never reaches
        ``on_success``; once compensated, the core resumes after the group, so ``ensure`` runs either way.
        """
        if spec.on_success is None and spec.on_failure is None and spec.ensure is None:
            main = self._main(adder, spec, main_path=main_path)
            self._guard(main, spec.when)
            return main
        if spec.when is None:
            return self._hooked(adder, spec, main_path)
        # The condition covers the step and all its hooks: a skipped step runs no ensure either.
        guarded = adder.parallel().do(lambda branch: self._hooked(branch, spec, main_path)).join()
        guarded.name(f"{spec.name}:when")
        self._guard(guarded, spec.when)
        return guarded

    def _hooked(self, adder: StepAdder, spec: StepSpec, main_path: bool) -> StepBuilder:
        group = adder.parallel().do(self._group_branch(spec, main_path)).join()
        group.name(f"{spec.name}:hooks")
        on_failure = spec.on_failure

        def compensation(branch: StepAdder) -> None:
            if on_failure is not None:
                self.step(branch, on_failure, main_path=False)
            else:
                # Nothing to undo: the step failing for good is handled, and ensure follows the group.
                branch.then_fn(_failure_handled, name=f"{spec.name}:failed")

        group.compensate_with_sequence(compensation)
        if spec.ensure is not None:
            return self.step(group, spec.ensure, main_path=main_path)
        return group

    def _group_branch(self, spec: StepSpec, main_path: bool) -> Callable[[StepAdder], StepBuilder]:
        def branch(adder: StepAdder) -> StepBuilder:
            main = self._main(adder, spec, main_path=main_path)
            if spec.on_success is not None:
                return self.step(main, spec.on_success, main_path=main_path)
            return main

        return branch

    def _main(self, adder: StepAdder, spec: StepSpec, *, main_path: bool) -> StepBuilder:
        main = self._container(adder, spec) if spec.parallel is not None else self._typed(adder, spec)
        main.name(spec.name)
        if main_path:
            main.id(spec.name)
        if spec.error_behavior is not None:
            main.on_error(map_error_behavior(spec.error_behavior))
        elif spec.on_failure is None and spec.ensure is not None:
            # Without on_failure the step keeps its usual retries; ensure runs once it fails for good. (With
            # on_failure and no explicit behaviour, it compensates at once, as in the Rust implementation.)
            main.on_error(self.default_behavior)
        return main

    @staticmethod
    def _guard(builder: StepBuilder, condition: Condition | None) -> None:
        if condition is not None:
            inner_factory = builder.step.factory
            builder.step.factory = lambda: ConditionalStep(inner_factory(), condition)

    def _typed(self, adder: StepAdder, spec: StepSpec) -> StepBuilder:
        assert spec.type is not None
        provider = load_step_type(spec.type)
        self.step_types.add(spec.type)
        config = dict(spec.config or {})
        name, workflow_id = spec.name, self.spec.id

        def factory() -> StepBody:
            return provider.create(config, step_name=name, workflow_id=workflow_id)

        keys = (
            frozenset(ref.name for ref in spec.outputs)
            if getattr(provider, "output_keys_filter", False)
            else None
        )
        builder = adder.then(factory, name=spec.name)
        builder.step.outputs.append(_merge_outputs(keys))
        builder.step.config = dict(config)
        return builder

    def _branch(self, child: StepSpec) -> Callable[[StepAdder], StepBuilder]:
        return lambda branch: self.step(branch, child, main_path=True)

    def _container(self, adder: StepAdder, spec: StepSpec) -> StepBuilder:
        assert spec.parallel is not None
        parallel = adder.parallel()
        for child in spec.parallel:
            parallel.do(self._branch(child))
        return parallel.join()


def compile_workflow(spec: WorkflowSpec, *, located: Located, loc: Loc) -> CompiledWorkflow:
    """The definition of a validated workflow.

    Raises:
        YamlCompilationError: the core builder refused the result (the message says why).
    """
    compiler = _Compiler(spec)
    try:
        definition = compiler.build()
    except (DefinitionError, ValueError) as exc:
        mark = located.mark(loc)
        raise YamlCompilationError(
            f"Compilation error: workflow '{spec.id}': {exc}",
            path=located.source,
            line=None if mark is None else mark.line,
            column=None if mark is None else mark.column,
        ) from exc
    return CompiledWorkflow(definition, spec, located.source, frozenset(compiler.step_types))
