"""WorkflowExecutor: one pass over an instance (SPEC §3), running the runnable steps concurrently."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from wfe_core.definition import WorkflowDefinition, WorkflowStep, call_flexible
from wfe_core.executor.cancellation import process_cancellations
from wfe_core.executor.error_handler import handle_step_exception
from wfe_core.executor.error_handler import log as failure_log
from wfe_core.executor.output_data import merge_output_data
from wfe_core.executor.pass_state import PassState
from wfe_core.executor.result_processor import process_result
from wfe_core.executor.scheduling import determine_next_execution
from wfe_core.models import (
    ExecutionError,
    ExecutionPointer,
    ExecutionResult,
    StepStarted,
    WorkflowInstance,
)
from wfe_core.models.instance import open_pointers as open_pointers_of
from wfe_core.models.status import POINTER_PENDING_PREDECESSOR, POINTER_RUNNING, WORKFLOW_RUNNABLE
from wfe_core.protocols import Clock
from wfe_core.step import CancellationSignal, LogSink, StepBody, StepExecutionContext

StepResult = ExecutionResult | None
StepCall = Callable[[], Awaitable[StepResult]]
StepMiddleware = Callable[[StepExecutionContext, StepBody, StepCall], Awaitable[StepResult]]
"""``async def middleware(ctx, body, next_) -> result``: wraps each step run; call ``await next_()`` to run it."""

UNKNOWN_STEP_RETRY = timedelta(seconds=60)


@dataclass(slots=True)
class _Prepared:
    pointer: ExecutionPointer
    step: WorkflowStep
    body: StepBody
    ctx: StepExecutionContext
    finished_at: datetime | None = None


def _every_kind() -> frozenset[str] | None:
    return None


class WorkflowExecutor:
    """Advances instances one pass at a time. Holds no per-instance state; safe to share."""

    def __init__(
        self,
        *,
        clock: Clock,
        step_middleware: Sequence[StepMiddleware] = (),
        log_sink: LogSink | None = None,
        services: Any = None,
    ) -> None:
        self.clock = clock
        self.step_middleware = list(step_middleware)
        self.log_sink = log_sink
        self.services = services
        self.events_wanted: Callable[[], frozenset[str] | None] = _every_kind
        """Asked once a pass: the kinds of lifecycle event someone takes (None: every kind). The host sets it
        from its hub (``LifecycleInterest``); a pass builds no event of another kind."""

    async def execute(
        self,
        instance: WorkflowInstance,
        definition: WorkflowDefinition,
        *,
        cancellation: CancellationSignal | None = None,
        before_step: Callable[[], None] | None = None,
    ) -> PassState:
        """Run one pass: every active pointer that is not sleeping into the future runs (concurrently); results
        are applied one at a time in pointer order; then ``next_execution`` and completion are computed.
        Pointers created by this pass run in the next one. ``before_step`` is called as each step body is about
        to start; whatever it raises aborts the pass instead of starting the step (the host checks its lease)."""
        now = self.clock.now()
        state = PassState(instance, definition, now, wanted=self.events_wanted())
        open_pointers = open_pointers_of(instance)
        runnable = []  # a loop, not a comprehension (a call of its own): most passes have one open pointer
        for p in open_pointers:  # an active pointer has not ended
            # the fields read from the pointer's dict: each read through pydantic's __getattr__ hook costs more
            # than the dict's own lookup (see ``open_pointers``)
            f = p.__dict__
            if f["active"]:
                sleep_until = f["sleep_until"]
                if sleep_until is None or sleep_until <= now:
                    runnable.append(p)
        # a pointer waiting for its predecessor is inactive: with every open pointer runnable, none waits
        state.successors_waiting = len(runnable) < len(open_pointers) and any(
            p.status is POINTER_PENDING_PREDECESSOR for p in open_pointers
        )
        cancellable = bool(definition.cancellable_steps())
        if cancellable:
            process_cancellations(state)
        signal = cancellation or CancellationSignal()

        prepared: list[_Prepared] = []
        fields = instance.__dict__
        for pointer in runnable:
            # (checked again: a cancellation, or a step skipped by its condition, may have changed them)
            if not pointer.active or fields["status"] is not WORKFLOW_RUNNABLE:
                continue
            item = self._prepare(state, pointer, signal)
            if item is not None:
                prepared.append(item)

        if len(prepared) == 1:
            only = prepared[0]
            outcome = await self._guarded(only, before_step)
            if only.ctx._artifacts is None:  # nothing was released after the step: the pass ends with it
                state.ended = only.finished_at
            state.ran = [only.pointer.id]
            self._record(state, only, outcome, cancellable)
        elif prepared:
            outcomes = await asyncio.gather(*(self._guarded(p, before_step) for p in prepared))
            state.ran = [item.pointer.id for item in prepared]
            for item, each in zip(prepared, outcomes, strict=True):
                self._record(state, item, each, cancellable)

        determine_next_execution(state)
        return state

    def _record(
        self, state: PassState, item: _Prepared, outcome: StepResult | BaseException, cancellable: bool
    ) -> None:
        """Apply what one step's run came to (a result, or the exception it raised)."""
        if isinstance(outcome, BaseException):
            handle_step_exception(state, item.pointer, item.step, outcome)
        else:
            self._apply(state, item, outcome if outcome is not None else ExecutionResult.next())
        if cancellable:
            process_cancellations(state)

    def fail_steps(
        self, instance: WorkflowInstance, definition: WorkflowDefinition, failures: dict[str, BaseException]
    ) -> PassState:
        """A pass in which the steps of the given pointers (by id) failed with the given exceptions, without
        running anything: each error is recorded and the step's error behaviour applies, as if the step had
        raised. The host uses it when the store refused what a pass produced."""
        state = PassState(instance, definition, self.clock.now(), wanted=self.events_wanted())
        for pointer_id, exc in failures.items():
            pointer = instance.pointer(pointer_id)
            handle_step_exception(state, pointer, definition.step(pointer.step_id), exc)
        determine_next_execution(state)
        return state

    def _prepare(
        self, state: PassState, pointer: ExecutionPointer, signal: CancellationSignal
    ) -> _Prepared | None:
        instance = state.instance
        f = pointer.__dict__  # (read as in ``execute``)
        step = state.definition.find_step(f["step_id"])
        if step is None:
            message = (
                f"step {pointer.step_id} not found in {instance.workflow_definition_id} v{instance.version}"
            )
            state.errors.append(
                ExecutionError(
                    workflow_id=instance.id,
                    execution_pointer_id=pointer.id,
                    error_time=state.now,
                    message=message,
                    step_id=pointer.step_id,
                    step_name=pointer.step_name,
                )
            )
            pointer.sleep_until = state.now + UNKNOWN_STEP_RETRY
            failure_log.warning(
                "%s (workflow %s); retrying at %s",
                message,
                instance.id,
                pointer.sleep_until.isoformat(),
                extra={
                    "workflow_id": instance.id,
                    "definition_id": instance.workflow_definition_id,
                    "version": instance.version,
                    "step_id": pointer.step_id,
                    "pointer_id": pointer.id,
                    "will_retry": True,
                },
            )
            state.touch(pointer)
            return None
        state.changed[f["id"]] = pointer  # (state.touch)
        if f["status"] is not POINTER_RUNNING:
            pointer.status = POINTER_RUNNING
            wanted = state.wanted
            if wanted is None or "StepStarted" in wanted:  # (emit_step checks too; most passes want none)
                state.emit_step(StepStarted, pointer)
        if f["start_time"] is None:
            pointer.start_time = state.now
        # positional, in field order (workflow, step, pointer, definition, item, cancellation, log_sink, clock,
        # services): keywords cost more to match, and every step makes one
        ctx = StepExecutionContext(
            instance,
            step,
            pointer,
            state.definition,
            f["context_item"],
            signal,
            self.log_sink,
            self.clock,
            self.services,
        )
        try:
            if step.when is not None and _first_run(pointer):
                if not call_flexible(step.when, instance.data, ctx):
                    process_result(state, pointer, step, ExecutionResult.skip())
                    return None
            body = step.create_body()
            for assign in step.inputs:
                assign(body, instance.data, ctx)
        except Exception as exc:
            handle_step_exception(state, pointer, step, exc)
            return None
        return _Prepared(pointer, step, body, ctx)

    async def _guarded(
        self, item: _Prepared, before_step: Callable[[], None] | None
    ) -> StepResult | BaseException:
        if before_step is not None:
            before_step()  # not a step failure: it propagates and ends the pass
        try:
            # without middleware the body is called here, one coroutine less per step than through _invoke
            if self.step_middleware:
                return await self._invoke(item)
            step, run = item.step, item.body.run
            if step.consumes or step.produces or not _is_async(run):
                return await self._call_body(item)
            # the step's own coroutine, awaited here: nothing to do around it but check what it returned
            result = await run(item.ctx)
            if result is not None and type(result) is not ExecutionResult:
                result = await _checked(result, step)
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        finally:
            item.finished_at = self.clock.now()
            ctx = item.ctx
            if ctx._artifacts is not None:  # only a step that used its artifacts left something to release
                await ctx.release()

    async def _invoke(self, item: _Prepared) -> StepResult:
        """The step's body through the step middleware, outermost first."""
        body, ctx = item.body, item.ctx

        def call_body() -> Awaitable[StepResult]:
            return self._call_body(item)

        call: StepCall = call_body
        for middleware in reversed(self.step_middleware):
            call = _wrap(middleware, ctx, body, call)
        return await call()

    async def _call_body(self, item: _Prepared) -> StepResult:
        """Run the step's body (in a worker thread when it is a plain ``run`` that may block) and check what it
        returned; the artifacts it declares it consumes must exist first, and those it produces after."""
        body, ctx, step = item.body, item.ctx, item.step
        if step.consumes:
            await ctx.artifacts.require(step.consumes)
        run = body.run
        if _is_async(run):
            result = await run(ctx)
        elif type(body).run_in_thread:
            result = await asyncio.to_thread(run, ctx)
        else:
            result = run(ctx)
        if result is not None and type(result) is not ExecutionResult:
            result = await _checked(result, step)
        if step.produces and (result is None or (result.proceed and not result.skipped)):
            await ctx.artifacts.check_produced(step.produces, step.name or str(step.id))
        return result

    def _apply(self, state: PassState, item: _Prepared, result: ExecutionResult) -> None:
        if result.proceed and not result.skipped:
            try:
                if result.output_data is not None:
                    merge_output_data(state.instance, result.output_data)
                for apply_output in item.step.outputs:
                    apply_output(item.body, item.ctx)
            except Exception as exc:
                handle_step_exception(state, item.pointer, item.step, exc)
                return
        pointer = item.pointer
        process_result(state, pointer, item.step, result)
        f = pointer.__dict__  # (read as in ``execute``)
        if f["end_time"] is not None and item.finished_at is not None and not f["active"]:
            pointer.end_time = item.finished_at  # when the step itself finished, not when the pass began


async def _checked(result: Any, step: WorkflowStep) -> StepResult:
    """What a step's run returned that is not an ``ExecutionResult`` itself: awaited when awaitable, then it must
    be one (or None)."""
    if inspect.isawaitable(result):
        result = await result
    if result is not None and not isinstance(result, ExecutionResult):
        raise TypeError(f"step {step.name!r} returned {type(result).__name__}, not ExecutionResult")
    return result


def _first_run(pointer: ExecutionPointer) -> bool:
    """Whether the pointer's step has not run yet (not a later run of a step that slept, waited, branched or
    is being retried)."""
    return pointer.persistence_data is None and not pointer.children and pointer.retry_count == 0


_ASYNC_RUN: dict[Any, bool] = {}
"""Whether a class's run method is a coroutine function, by the function (inspect's check is not free)."""


def _is_async(run: Callable[..., Any]) -> TypeGuard[Callable[..., Awaitable[Any]]]:
    function = getattr(run, "__func__", None)
    if function is None:  # not a method defined on a class: no bounded key to remember it by
        return inspect.iscoroutinefunction(run)
    answer = _ASYNC_RUN.get(function)
    if answer is None:
        answer = _ASYNC_RUN[function] = inspect.iscoroutinefunction(run)
    return answer


def _wrap(middleware: StepMiddleware, ctx: StepExecutionContext, body: StepBody, inner: StepCall) -> StepCall:
    async def call() -> StepResult:
        return await middleware(ctx, body, inner)

    return call
