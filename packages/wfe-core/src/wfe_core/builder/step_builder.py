"""The fluent builder: verbs that add steps, configure the current one, and open branches."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import wfe_core.primitives as primitives
from wfe_core.builder.data_path import set_data_path
from wfe_core.definition import (
    NO_VALUE,
    Outcome,
    WorkflowDefinition,
    WorkflowStep,
    call_flexible,
    step_display_name,
    step_factory,
)
from wfe_core.errors import DefinitionError
from wfe_core.models import ErrorBehavior
from wfe_core.primitives.poll_defaults import DEFAULT_INTERVAL, DEFAULT_REQUEST_TIMEOUT, DEFAULT_TIMEOUT
from wfe_core.step import StepBody, StepExecutionContext

if TYPE_CHECKING:
    from wfe_core.builder.workflow_builder import WorkflowBuilder
    from wfe_core.primitives.poll_conditions import PollCondition, PollResponse

# The primitives are read from their lazy package when a verb adds one (``primitives.Delay``), so building a
# definition imports the modules of the primitives it uses (a compiled YAML pipeline: a few), not all of them;
# each verb reads its class when called, so no run of a step imports a module.

StepLike = type[StepBody] | StepBody | Callable[[], StepBody]
BranchFn = Callable[["BranchBuilder"], Any]


class StepAdder:
    """Verbs that add a step at the current position; shared by workflow, branch and step builders."""

    _root: WorkflowBuilder

    def _attach(self, step: WorkflowStep) -> None:
        raise NotImplementedError

    def _add(self, factory: Callable[[], StepBody], name: str | None, **fields: Any) -> StepBuilder:
        step = self._root._new_step(factory, name, **fields)
        self._attach(step)
        return StepBuilder(self._root, step)

    def _branch(self, fn: BranchFn, what: str) -> int:
        branch = BranchBuilder(self._root)
        fn(branch)
        if branch.entry is None:
            raise DefinitionError(f"{what}: the branch adds no step (start it with start_with(...))")
        return branch.entry

    def then(self, step: StepLike, *, name: str | None = None) -> StepBuilder:
        """Add a step: a StepBody subclass, an instance (copied per run) or a zero-argument factory."""
        builder = self._add(step_factory(step), name or step_display_name(step))
        if not isinstance(step, type | StepBody):
            self._root._callable_step(builder.step, step, "factory")
        return builder

    def start_with(self, step: StepLike, *, name: str | None = None) -> StepBuilder:
        """Add the first step (same as ``then``)."""
        return self.then(step, name=name)

    def then_fn(self, fn: Callable[[StepExecutionContext], Any], *, name: str | None = None) -> StepBuilder:
        """Add an inline step ``fn(ctx)`` (sync or async) returning an ExecutionResult, or None for next()."""
        step_type = primitives.InlineStep
        builder = self._add(lambda: step_type(fn), name or getattr(fn, "__name__", "inline"))
        self._root._callable_step(builder.step, fn, "inline")
        return builder

    def wait_for(
        self,
        event_name: str,
        key: str | Callable[..., Any],
        effective_date: datetime | Callable[..., Any] | None = None,
    ) -> StepBuilder:
        """Pause until an event ``event_name`` with this key (or ``key(data, ctx)``) is published; the event's
        data is then the step's ``event_data``."""
        step_type = primitives.WaitFor
        return self._add(lambda: step_type(event_name, key, effective_date), f"wait_for:{event_name}")

    def delay(self, duration: timedelta | Callable[..., Any]) -> StepBuilder:
        """Durable sleep for ``duration`` (or ``duration(data, ctx)``)."""
        step_type = primitives.Delay
        return self._add(lambda: step_type(duration), "delay")

    def poll_endpoint(
        self,
        url: str | Callable[..., Any],
        *,
        until: str | PollCondition | Callable[[PollResponse], Any] | None = None,
        status: int | Iterable[int] | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | Callable[..., Any] | None = None,
        body: Any = None,
        interval: timedelta = DEFAULT_INTERVAL,
        timeout: timedelta = DEFAULT_TIMEOUT,
        request_timeout: timedelta = DEFAULT_REQUEST_TIMEOUT,
    ) -> StepBuilder:
        """Request ``url`` every ``interval`` until the response has an accepted ``status`` (default any 2xx)
        and ``until`` holds: a JSONPath expression on the JSON body (``'$.status == "ready"'``), a
        ``PollCondition`` (``BodyContains("ok")``) or a function of the response. The step sleeps durably
        between polls; once ``timeout`` has passed it fails with ``PollTimeoutError`` and its error behaviour
        applies. ``url``, ``headers`` and ``body`` (JSON, or str/bytes sent as is) may be functions of the data.
        The response is ``step.response`` for ``.output()``. Needs the ``http`` extra (``wfe[http]``)."""
        from wfe_core.primitives.poll_endpoint import PollEndpoint, PollEndpointConfig  # HTTP polling, on use

        config = PollEndpointConfig.create(
            url,
            until=until,
            status=status,
            method=method,
            headers=headers,
            body=body,
            interval=interval,
            timeout=timeout,
            request_timeout=request_timeout,
        )
        return self._add(lambda: PollEndpoint(config), "poll_endpoint")

    def if_do(self, condition: Callable[..., Any], branch: BranchFn) -> StepBuilder:
        """Run ``branch`` once if ``condition(data)`` holds."""
        step_type = primitives.If
        builder = self._add(lambda: step_type(condition), "if")
        builder.step.children.append(self._branch(branch, "if_do"))
        return builder

    def while_do(self, condition: Callable[..., Any], branch: BranchFn) -> StepBuilder:
        """Repeat ``branch`` while ``condition(data)`` holds (checked before each iteration)."""
        step_type = primitives.While
        builder = self._add(lambda: step_type(condition), "while")
        builder.step.children.append(self._branch(branch, "while_do"))
        return builder

    def for_each(self, items: Callable[..., Any], branch: BranchFn, *, parallel: bool = True) -> StepBuilder:
        """Run ``branch`` once per item of ``items(data)`` (``ctx.item``), concurrently unless ``parallel=False``."""
        step_type = primitives.ForEach
        builder = self._add(lambda: step_type(items, parallel=parallel), "for_each")
        builder.step.children.append(self._branch(branch, "for_each"))
        return builder

    def saga(self, branch: BranchFn) -> StepBuilder:
        """A transaction-like scope: when a step inside fails, completed steps are compensated in reverse."""
        builder = self._add(
            primitives.SagaContainer,
            "saga",
            resume_children_after_compensation=False,
            revert_children_after_compensation=True,
            clears_persistence_on_retry=True,
        )
        builder.step.children.append(self._branch(branch, "saga"))
        return builder

    def parallel(self) -> ParallelBuilder:
        """Branches that run concurrently: ``parallel().do(fn).do(fn).join()``."""
        return ParallelBuilder(self._add(primitives.Sequence, "parallel"))

    def decide(self, expression: Callable[..., Any]) -> DecideBuilder:
        """Proceed with ``expression(data)``; ``.branch(value, fn)`` adds the branch taken for that value."""
        step_type = primitives.Decide
        builder = self._add(lambda: step_type(expression), "decide")
        return DecideBuilder(self._root, builder.step)

    def activity(self, name: str, parameters: Callable[..., Any] | None = None) -> StepBuilder:
        """Wait for an external worker to take and complete activity ``name``; its result is ``step.result``."""
        step_type = primitives.Activity
        return self._add(lambda: step_type(name, parameters), f"activity:{name}")

    def sub_workflow(
        self, definition_id: str, version: int | None = None, data_fn: Callable[..., Any] | None = None
    ) -> StepBuilder:
        """Start a child workflow and wait for it; its final data is ``step.result``. A failed child fails
        this step."""
        step_type = primitives.SubWorkflow
        return self._add(lambda: step_type(definition_id, version, data_fn), f"sub_workflow:{definition_id}")

    def schedule(self, interval: Callable[..., Any] | timedelta) -> ScheduleBuilder:
        """A branch that runs once, in the background, after ``interval``: ``schedule(fn).do(branch)``."""
        interval_fn = _constant(interval)
        step_type = primitives.Schedule
        return ScheduleBuilder(self, self._add(lambda: step_type(interval_fn), "schedule"))

    def recur(self, interval: Callable[..., Any] | timedelta, until: Callable[..., Any]) -> ScheduleBuilder:
        """A branch started every ``interval`` in the background until ``until(data)`` holds."""
        interval_fn = _constant(interval)
        step_type = primitives.Recur
        builder = self._add(lambda: step_type(interval_fn, until), "recur")
        builder.step.cancel_condition = until
        return ScheduleBuilder(self, builder)

    def end_workflow(self) -> StepBuilder:
        """Complete the workflow here (WorkflowCompleted is published as for any completion)."""
        return self._add(primitives.EndWorkflow, "end_workflow", ends_workflow=True)


def _constant(value: Callable[..., Any] | timedelta) -> Callable[..., Any]:
    if isinstance(value, timedelta):
        return lambda *_: value
    return value


class BranchBuilder(StepAdder):
    """The fresh builder a branch function receives; its first step is the branch's entry."""

    def __init__(self, root: WorkflowBuilder) -> None:
        self._root = root
        self.entry: int | None = None

    def _attach(self, step: WorkflowStep) -> None:
        if self.entry is not None:
            raise DefinitionError(
                "a branch builder starts one chain: continue it with .then(...) on the step"
            )
        self.entry = step.id


class StepBuilder(StepAdder):
    """Configures the step just added; the adding verbs chain the next step after it."""

    def __init__(self, root: WorkflowBuilder, step: WorkflowStep) -> None:
        self._root = root
        self.step = step

    def _attach(self, step: WorkflowStep) -> None:
        self.step.outcomes.append(Outcome(next_step=step.id))

    def name(self, name: str) -> StepBuilder:
        """Display name."""
        self.step.name = name
        return self

    def id(self, external_id: str) -> StepBuilder:
        """Stable external id (used by ``attach``, YAML and search)."""
        self.step.external_id = external_id
        return self

    def input(self, attribute: str, fn: Callable[..., Any]) -> StepBuilder:
        """Before each run, set the step attribute to ``fn(data, ctx)``."""

        def assign(body: StepBody, data: Any, ctx: StepExecutionContext) -> None:
            setattr(body, attribute, call_flexible(fn, data, ctx))

        self.step.inputs.append(assign)
        return self

    def output(self, path: str, fn: Callable[..., Any]) -> StepBuilder:
        """After a run that proceeds, set data at ``path`` (dotted) to ``fn(step)`` (or ``fn(step, data)``)."""

        def apply(body: StepBody, ctx: StepExecutionContext) -> None:
            set_data_path(ctx.workflow.data, path, call_flexible(fn, body, ctx.workflow.data))

        self.step.outputs.append(apply)
        return self

    def config(self, config: Mapping[str, Any]) -> StepBuilder:
        """The step's static configuration (JSON-like), ``ctx.config`` while it runs; replaces any earlier one."""
        if not isinstance(config, Mapping):
            raise DefinitionError(f"config() takes a dict, not {type(config).__name__}")
        self.step.config = dict(config)
        return self

    def on_error(self, behavior: ErrorBehavior) -> StepBuilder:
        """What to do when this step raises (overrides the definition's default)."""
        self.step.error_behavior = behavior
        return self

    def compensate_with(self, step: StepLike | Callable[[StepExecutionContext], Any]) -> StepBuilder:
        """The step (class, instance, factory, or inline ``fn(ctx)``) that undoes this one when it fails for good
        or when an enclosing saga fails."""
        if _is_inline_fn(step):
            fn = cast(Callable[[StepExecutionContext], Any], step)
            step_type = primitives.InlineStep
            comp = self._root._new_step(lambda: step_type(fn), getattr(step, "__name__", "compensate"))
            self._root._callable_step(comp, fn, "inline")
        else:
            comp = self._root._new_step(step_factory(cast(StepLike, step)), step_display_name(step))
            if not isinstance(step, type | StepBody):
                self._root._callable_step(comp, step, "factory")
        comp.is_compensation = True
        self.step.compensation_step_id = comp.id
        return self

    def compensate_with_sequence(self, branch: BranchFn) -> StepBuilder:
        """A sequence of steps that undoes this one (steps run one after another)."""
        comp = self._root._new_step(primitives.Sequence, "compensation")
        comp.is_compensation = True
        comp.children.append(self._branch(branch, "compensate_with_sequence"))
        self.step.compensation_step_id = comp.id
        return self

    def cancel_condition(self, condition: Callable[..., Any], *, proceed: bool = False) -> StepBuilder:
        """Cancel this step (and everything inside it) once ``condition(data)`` holds; with ``proceed=True`` the
        steps after it run as if it had completed."""
        self.step.cancel_condition = condition
        self.step.proceed_on_cancel = proceed
        return self

    def produces(self, *artifacts: str) -> StepBuilder:
        """Declare artifacts this step puts (``ctx.artifacts.put``): a run that proceeds without each of them
        stored for the workflow fails the step, naming the missing one."""
        self.step.produces = (*self.step.produces, *artifacts)
        return self

    def consumes(self, *artifacts: str) -> StepBuilder:
        """Declare artifacts this step reads (``ctx.artifacts.get``): the step fails before its run when one
        is neither put by an earlier step nor held as a reference in the data."""
        self.step.consumes = (*self.step.consumes, *artifacts)
        return self

    def attach(self, external_id: str) -> StepBuilder:
        """Continue at the step with this external id (a goto)."""
        self.step.outcomes.append(Outcome(external_next_step_id=external_id))
        return self

    def when(self, value: Any, branch: BranchFn | None = None) -> StepBuilder:
        """Two forms:

        - ``.when(condition)``: run this step only if ``condition(data)`` (or ``condition(data, ctx)``) holds
          when it is reached; otherwise it is skipped (its pointer ends SKIPPED, ``.output()`` mappings do not
          run) and the workflow goes on after it. Returns this step's builder.
        - ``.when(value, branch)``: run ``branch`` when the step before returned
          ``ExecutionResult.outcome(value)``. Consecutive ``when`` calls share one switch; a following ``then``
          runs after every matching block ended.
        """
        if branch is None:
            if not callable(value):
                raise DefinitionError(
                    f"when({value!r}) without a branch takes a condition, a function of the data: "
                    "when(lambda data: ...); for an outcome block give when(value, branch)"
                )
            self.step.when = value
            return self
        if self.step.factory is primitives.OutcomeSwitch:
            switch = self
        else:
            switch = self._add(primitives.OutcomeSwitch, "switch")
        step_type = primitives.When
        block = self._root._new_step(lambda: step_type(value), f"when:{value}")
        block.children.append(self._branch(branch, "when"))
        switch.step.children.append(block.id)
        return switch

    def build(self, definition_id: str, version: int = 1, **options: Any) -> WorkflowDefinition:
        """Finish the workflow (see ``WorkflowBuilder.build``)."""
        return self._root.build(definition_id, version, **options)


def _is_inline_fn(step: Any) -> bool:
    if isinstance(step, type) or isinstance(step, StepBody) or not callable(step):
        return False
    try:
        params = [
            p
            for p in inspect.signature(step).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        return False
    return len(params) >= 1


class ParallelBuilder:
    """``parallel().do(branch).do(branch).join()``."""

    def __init__(self, container: StepBuilder) -> None:
        self._container = container

    def do(self, branch: BranchFn) -> ParallelBuilder:
        self._container.step.children.append(self._container._branch(branch, "parallel().do"))
        return self

    def join(self) -> StepBuilder:
        if not self._container.step.children:
            raise DefinitionError("parallel() needs at least one .do(branch) before .join()")
        return self._container


class DecideBuilder(StepBuilder):
    """``decide(fn).branch(value, branch).branch(value, branch)``."""

    def branch(self, value: Any, branch: BranchFn) -> DecideBuilder:
        entry = self._branch(branch, f"decide().branch({value!r})")
        self.step.outcomes.append(Outcome(next_step=entry, value=value))
        return self


class ScheduleBuilder:
    """``schedule(interval).do(branch)`` / ``recur(interval, until).do(branch)``; ``do`` returns the builder the
    schedule was added to, so a following ``then`` runs alongside the background branch."""

    def __init__(self, parent: StepAdder, container: StepBuilder) -> None:
        self._parent = parent
        self._container = container

    def do(self, branch: BranchFn) -> Any:
        self._container.step.children.append(self._container._branch(branch, "schedule/recur .do"))
        return self._parent if isinstance(self._parent, StepBuilder) else self._container


__all__ = [
    "NO_VALUE",
    "BranchBuilder",
    "DecideBuilder",
    "ParallelBuilder",
    "ScheduleBuilder",
    "StepAdder",
    "StepBuilder",
]
