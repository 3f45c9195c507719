"""Compiling validated workflow specs onto the core :class:`~wfe_core.builder.WorkflowBuilder`.

- consecutive steps run in order; ``parallel:`` becomes a container whose children start together and are not
  chained to each other;
- failures are as in GitHub Actions, a deliberate difference from the Rust implementation: a step that fails
  for good (at once, or once the retries its ``error_behavior`` asks for ran out) fails the run, after its
  ``on_failure`` and then its ``ensure`` ran, unless it says ``continue_on_error: true`` (then the run goes on
  after ``on_failure`` and ``ensure``). ``terminate`` and ``compensate`` both mean "fails for good at once";
  ``retry`` and ``suspend`` apply only where the file asks. ``ensure`` runs after the step whatever happens;
- ``when`` is checked when the step is reached; false skips it and the workflow continues;
- each step's results (``step.outputs``) are shallow-merged into the workflow data when it proceeds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from wfe_core.builder import StepBuilder, WorkflowBuilder
from wfe_core.builder.step_builder import StepAdder
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import ConfigurationError, DefinitionError
from wfe_core.models import ErrorBehavior, ErrorKind, ExecutionResult
from wfe_core.primitives.container import CHILDREN_ACTIVE
from wfe_core.step import StepBody, StepExecutionContext
from wfe_yaml.conditions import evaluate
from wfe_yaml.durations import parse_duration_ms
from wfe_yaml.errors import YamlCompilationError, YamlWarning
from wfe_yaml.located import Loc, Located
from wfe_yaml.schema import Condition, ErrorBehaviorSpec, StepSpec, WorkflowSpec
from wfe_yaml.step_types import load_step_type

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
    raise ConfigurationError(f"Unknown error behavior type: '{spec.type}'")


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

    def skips(self, ctx: StepExecutionContext) -> bool:
        """True when the step is reached now with its condition false (it will be skipped)."""
        started = isinstance(ctx.persistence_data, dict) and bool(ctx.persistence_data.get(CHILDREN_ACTIVE))
        return not started and ctx.persistence_data is None and not evaluate(self.condition, ctx.data)

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult | None:
        if self.skips(ctx):
            return ExecutionResult.skip()
        run = self.inner.run
        # The same policy as the executor's for the inner body: a plain ``run`` may block, so it goes to a
        # worker thread unless its class says it never blocks.
        if inspect.iscoroutinefunction(run):
            result = await run(ctx)
        elif type(self.inner).run_in_thread:
            import asyncio  # loaded by then (this runs in the loop); not at the top, for wfe validate

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


class StepFailedError(Exception):
    """Raised by a step's ``:fail`` step: the step failed for good, so the run fails (after its hooks)."""


class FailRun(StepBody):
    """The last step of a failed step's failure path: fails the run (or, inside another step's hooks, hands the
    failure to that step)."""

    run_in_thread: ClassVar[bool] = False

    def __init__(self, step_name: str) -> None:
        self.step_name = step_name

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult | None:
        raise StepFailedError(f"step '{self.step_name}' failed")


async def _continued(ctx: StepExecutionContext) -> None:
    """The failure path of a ``continue_on_error`` step: the run goes on after it."""
    return None


INTERNAL_ROLES = frozenset({"hooks", "body", "failure", "fail", "continue"})
"""The roles of the steps the compiler adds around a YAML step, named ``<step>:<role>``: the group holding the
step and all its hooks (``hooks``), the group of the step and its ``on_success`` (``body``), the failure path
(``failure``), and its last step failing the run (``fail``) or letting it go on (``continue``)."""


class _Compiler:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.step_types: set[str] = set()
        self._renames: list[tuple[StepBuilder, str]] = []

    def build(self) -> WorkflowDefinition:
        builder = WorkflowBuilder()
        adder: StepAdder = builder
        for step in self.spec.steps:
            adder = self.step(adder, step, main_path=True, inside=False)
        definition = builder.build(
            self.spec.id,
            self.spec.version,
            description=self.spec.description,
            # A step that fails for good fails the run; retries and suspends are set on the steps that ask.
            default_error_behavior=ErrorBehavior.terminate(),
        )
        for group, name in self._renames:
            compensation_id = group.step.compensation_step_id
            assert compensation_id is not None
            definition.step(compensation_id).name = name
        return definition

    def core_behavior(self, spec: StepSpec) -> ErrorBehavior | None:
        """The core behaviour set on a typed step: retry or suspend when the step (or the workflow) asks for it;
        None for terminate, compensate or nothing, where a failure is for good at once."""
        behavior = spec.error_behavior or self.spec.error_behavior
        if behavior is None or behavior.type in ("terminate", "compensate"):
            return None
        return map_error_behavior(behavior)

    def step(self, adder: StepAdder, spec: StepSpec, *, main_path: bool, inside: bool) -> StepBuilder:
        """Add ``spec`` (and its hooks) after ``adder``; returns the builder the next step chains after.

        ``inside``: the step is within another step's group, whose failure path takes its failure over.

        A step with hooks, with ``continue_on_error``, or that retries outside any group, becomes a group
        ``<step>:hooks`` (a one-branch container, the one its ``when`` guards) holding ``<step>:body`` (another,
        holding ``main -> on_success``) followed by ``ensure``. The body's compensation is the failure path
        ``<step>:failure``: ``on_failure``, then ``ensure`` and ``<step>:fail`` failing the run, or with
        ``continue_on_error`` ``<step>:continue``, after which the run goes on after the body, through ``ensure``.
        Every hook thus runs inside the step's group.
        """
        behavior = self.core_behavior(spec)
        # Retries that run out outside any group need a failure path of their own to fail the run (the core
        # would suspend the workflow).
        retries = (
            not inside and spec.parallel is None and behavior is not None and behavior.kind is ErrorKind.RETRY
        )
        if not (spec.on_success or spec.on_failure or spec.ensure or spec.continue_on_error or retries):
            main = self._main(adder, spec, main_path=main_path, inside=inside)
            self._guard(main, spec.when)
            return main
        group = adder.parallel().do(lambda branch: self._hooked(branch, spec, main_path, inside)).join()
        group.name(f"{spec.name}:hooks")
        # The condition covers the step and all its hooks: a skipped step runs no ensure either.
        self._guard(group, spec.when)
        return group

    def _hooked(self, adder: StepAdder, spec: StepSpec, main_path: bool, inside: bool) -> StepBuilder:
        body = adder.parallel().do(self._group_branch(spec, main_path)).join()
        body.name(f"{spec.name}:body")

        def failure(branch: StepAdder) -> None:
            tail = branch
            if spec.on_failure is not None:
                tail = self.step(tail, spec.on_failure, main_path=False, inside=inside)
            if spec.continue_on_error:
                tail.then_fn(_continued, name=f"{spec.name}:continue")
                return
            if spec.ensure is not None:
                tail = self.step(tail, spec.ensure, main_path=False, inside=inside)
            name = spec.name
            fail = tail.then(lambda: FailRun(name), name=f"{spec.name}:fail")
            if not inside:
                fail.on_error(ErrorBehavior.terminate())

        body.compensate_with_sequence(failure)
        self._renames.append((body, f"{spec.name}:failure"))
        if spec.ensure is not None:
            return self.step(body, spec.ensure, main_path=main_path, inside=inside)
        return body

    def _group_branch(self, spec: StepSpec, main_path: bool) -> Callable[[StepAdder], StepBuilder]:
        def branch(adder: StepAdder) -> StepBuilder:
            main = self._main(adder, spec, main_path=main_path, inside=True)
            if spec.on_success is not None:
                return self.step(main, spec.on_success, main_path=main_path, inside=True)
            return main

        return branch

    def _main(self, adder: StepAdder, spec: StepSpec, *, main_path: bool, inside: bool) -> StepBuilder:
        if spec.parallel is not None:
            main = self._container(adder, spec, inside=inside)
            # A container's own behaviour applies only when the file sets it on the container.
            behavior = None if spec.error_behavior is None else self.core_behavior(spec)
        else:
            main = self._typed(adder, spec)
            behavior = self.core_behavior(spec)
        main.name(spec.name)
        if main_path:
            main.id(spec.name)
        if behavior is not None:
            main.on_error(behavior)
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
        declared = getattr(provider, "artifacts", None)
        if callable(declared):
            builder.step.produces, builder.step.consumes = declared(config, step_name=name)
        return builder

    def _container(self, adder: StepAdder, spec: StepSpec, *, inside: bool) -> StepBuilder:
        assert spec.parallel is not None
        parallel = adder.parallel()
        for child in spec.parallel:
            parallel.do(self._branch(child, inside))
        return parallel.join()

    def _branch(self, child: StepSpec, inside: bool) -> Callable[[StepAdder], StepBuilder]:
        return lambda branch: self.step(branch, child, main_path=True, inside=inside)


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
