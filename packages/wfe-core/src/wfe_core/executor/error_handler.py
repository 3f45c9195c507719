"""What happens when a step raises: retry, suspend, terminate, or compensate (SPEC §5)."""

from __future__ import annotations

import logging
import traceback
from collections import deque

from wfe_core import transitions
from wfe_core.definition import NO_VALUE, WorkflowStep
from wfe_core.executor.pass_state import PassState
from wfe_core.models import (
    ErrorBehavior,
    ErrorKind,
    ExecutionError,
    ExecutionPointer,
    PointerStatus,
    WorkflowError,
)

log = logging.getLogger("wfe.steps")
"""One record per step failure: WARNING while the step (or a scope around it) will be retried, ERROR when it
failed for good. The record carries the traceback (``exc_info``) and, as attributes, ``workflow_id``,
``definition_id``, ``version``, ``reference``, ``step_id``, ``step_name``, ``pointer_id``, ``attempt`` and
``will_retry``."""


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def exception_type(exc: BaseException) -> str:
    """The class of ``exc``: its name for a builtin, ``module.QualifiedName`` otherwise."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def handle_step_exception(
    state: PassState, pointer: ExecutionPointer, step: WorkflowStep, exc: BaseException
) -> None:
    """Record the error, publish WorkflowError, apply the error behaviour (bubbling through scopes) and log the
    failure on ``wfe.steps``."""
    message = describe(exc)
    attempt = pointer.retry_count + 1
    state.errors.append(
        ExecutionError(
            workflow_id=state.instance.id,
            execution_pointer_id=pointer.id,
            error_time=state.now,
            message=message,
            step_id=pointer.step_id,
            step_name=step.name,
            exception_type=exception_type(exc),
            traceback="".join(traceback.format_exception(exc)),
        )
    )
    state.emit(
        WorkflowError, message=message, step_id=pointer.step_id, pointer_id=pointer.id, step_name=step.name
    )
    pointer.status = PointerStatus.FAILED
    state.touch(pointer)
    handling = _ErrorHandling(state, pointer)
    handling.run()
    _log_failure(state, pointer, step, exc, attempt, handling.outcome, retry=handling.retried)


def _log_failure(
    state: PassState,
    pointer: ExecutionPointer,
    step: WorkflowStep,
    exc: BaseException,
    attempt: int,
    outcome: str,
    *,
    retry: bool,
) -> None:
    instance = state.instance
    log.log(
        logging.WARNING if retry else logging.ERROR,
        "step %r (id %d) of workflow %s (%s v%d) failed on attempt %d; %s: %s",
        step.name,
        pointer.step_id,
        instance.id,
        instance.workflow_definition_id,
        instance.version,
        attempt,
        outcome,
        describe(exc),
        exc_info=exc,
        extra={
            "workflow_id": instance.id,
            "definition_id": instance.workflow_definition_id,
            "version": instance.version,
            "reference": instance.reference,
            "step_id": pointer.step_id,
            "step_name": step.name,
            "pointer_id": pointer.id,
            "attempt": attempt,
            "will_retry": retry,
        },
    )


class _ErrorHandling:
    """One handling of one exception: a queue of pointers whose behaviour applies, and one compensation chain."""

    def __init__(self, state: PassState, exception_pointer: ExecutionPointer) -> None:
        self.state = state
        self.exception_pointer = exception_pointer
        self.queue: deque[ExecutionPointer] = deque([exception_pointer])
        self.chain_tail: ExecutionPointer | None = None
        self.retried = False
        """Whether the handling ends in a retry (of the failed step or of a scope around it)."""
        self.outcome = "the workflow goes on"
        """What became of the failure, for the log: the last behaviour applied."""

    def run(self) -> None:
        while self.queue:
            pointer = self.queue.popleft()
            step = self.state.definition.step(pointer.step_id)
            behavior = self.behavior_for(pointer, step)
            if behavior.kind is ErrorKind.RETRY:
                self.retry(pointer, step, behavior)
            elif behavior.kind is ErrorKind.SUSPEND:
                self.suspend(pointer, step)
            elif behavior.kind is ErrorKind.TERMINATE:
                self.terminate()
            else:
                self.compensate(pointer)

    def behavior_for(self, pointer: ExecutionPointer, step: WorkflowStep) -> ErrorBehavior:
        if step.error_behavior is not None:
            return step.error_behavior
        if self.should_compensate(pointer, step):
            return ErrorBehavior.compensate()
        return self.state.definition.default_error_behavior

    def should_compensate(self, pointer: ExecutionPointer, step: WorkflowStep) -> bool:
        """The step itself or an enclosing scope has compensation (or is a saga)."""
        if step.compensation_step_id is not None or step.revert_children_after_compensation:
            return True
        for scope_id in pointer.scope:
            scope_step = self.state.definition.step(self.state.instance.pointer(scope_id).step_id)
            if scope_step.compensation_step_id is not None or scope_step.revert_children_after_compensation:
                return True
        return False

    # -- behaviours ----------------------------------------------------------------------------------

    def retry(self, pointer: ExecutionPointer, step: WorkflowStep, behavior: ErrorBehavior) -> None:
        state = self.state
        state.touch(pointer)
        if behavior.max_retries is not None and pointer.retry_count >= behavior.max_retries:
            if self.should_compensate(pointer, step):
                self.compensate(pointer, failing_for_good=True)
            else:
                pointer.extension_attributes[transitions.RETRIES_EXHAUSTED] = True
                self.suspend(pointer, step)
            return
        pointer.retry_count += 1
        pointer.status = PointerStatus.SLEEPING
        pointer.sleep_until = state.now + behavior.retry_delay(pointer.retry_count)
        self.prime_for_retry(pointer, step)
        self.retried = True
        which = "it" if pointer is self.exception_pointer else f"step {step.name!r} around it"
        at = pointer.sleep_until.isoformat(timespec="milliseconds")
        of = "" if behavior.max_retries is None else f" of {behavior.max_retries}"
        self.outcome = f"retrying {which} at {at} (retry {pointer.retry_count}{of})"

    def suspend(self, pointer: ExecutionPointer, step: WorkflowStep) -> None:
        """Suspend the workflow; the failed pointer stays active and runs again when it is resumed."""
        state = self.state
        pointer.status = PointerStatus.FAILED
        pointer.sleep_until = None
        state.touch(pointer)
        self.prime_for_retry(pointer, step)
        suspended = transitions.suspend(state.instance, state.now)
        if suspended is not None:
            state.events.append(suspended.event)
        self.retried = False
        exhausted = pointer.extension_attributes.get(transitions.RETRIES_EXHAUSTED)
        self.outcome = (
            "retries exhausted; " if exhausted else ""
        ) + "the workflow is suspended (resume it to retry)"

    def terminate(self) -> None:
        state = self.state
        terminated = transitions.terminate(state.instance, state.now)
        if terminated is not None:
            state.events.append(terminated.event)
        self.retried = False
        self.outcome = "the workflow is terminated"

    def prime_for_retry(self, pointer: ExecutionPointer, step: WorkflowStep) -> None:
        if step.clears_persistence_on_retry:
            pointer.persistence_data = None

    # -- compensation ----------------------------------------------------------------------------------

    def compensate(self, failed: ExecutionPointer, *, failing_for_good: bool = False) -> None:
        """Walk from ``failed`` outward through its scopes, ending them and queueing compensation steps."""
        state = self.state
        instance = state.instance
        self.retried = False
        self.outcome = ("retries exhausted; " if failing_for_good else "") + "compensating"
        walk = [failed.id, *failed.scope]
        for index, pointer_id in enumerate(walk):
            scope_pointer = instance.pointer(pointer_id)
            scope_step = state.definition.step(scope_pointer.step_id)
            resume, revert = True, False
            for parent_id in walk[index + 1 :]:
                parent_step = state.definition.step(instance.pointer(parent_id).step_id)
                if (
                    not parent_step.resume_children_after_compensation
                    or parent_step.revert_children_after_compensation
                ):
                    resume = parent_step.resume_children_after_compensation
                    revert = parent_step.revert_children_after_compensation
                    break

            own = scope_step.error_behavior
            exempt = failing_for_good and scope_pointer is failed
            if own is not None and own.kind is not ErrorKind.COMPENSATE and not exempt:
                # This scope handles the failure its own way (e.g. a saga that retries); it takes over from here.
                self.queue.append(scope_pointer)
                return

            state.end_pointer(scope_pointer, PointerStatus.FAILED)
            resumed = False
            if scope_step.compensation_step_id is not None:
                scope_pointer.status = PointerStatus.COMPENSATED
                self.add_compensation(scope_pointer, scope_step.compensation_step_id)
                if resume:
                    tail = self.chain_tail
                    for outcome in scope_step.outcomes:
                        if outcome.value is NO_VALUE and outcome.next_step is not None:
                            state.next_pointer(scope_pointer, outcome.next_step, pending=tail)
                    resumed = True

            if revert:
                siblings = [
                    p
                    for p in instance.execution_pointers
                    if p.status is PointerStatus.COMPLETE
                    and p.id != scope_pointer.id
                    and p.scope == scope_pointer.scope
                ]
                siblings.sort(key=lambda p: p.end_time or state.now, reverse=True)
                for sibling in siblings:
                    sibling_step = state.definition.step(sibling.step_id)
                    if sibling_step.compensation_step_id is not None:
                        self.add_compensation(sibling, sibling_step.compensation_step_id)
                        sibling.status = PointerStatus.COMPENSATED
                        state.touch(sibling)
            if resumed:
                return  # the workflow carries on after this scope; enclosing containers continue normally

    def add_compensation(self, compensated: ExecutionPointer, compensation_step_id: int) -> None:
        """A pointer for the compensation step, chained after the previous compensation of this handling."""
        state = self.state
        pointer = ExecutionPointer(
            step_id=compensation_step_id,
            step_name=state.definition.step(compensation_step_id).name,
            predecessor_id=self.exception_pointer.id,
            scope=list(compensated.scope),
            context_item=compensated.context_item,
        )
        if self.chain_tail is not None:
            pointer.active = False
            pointer.status = PointerStatus.PENDING_PREDECESSOR
            pointer.predecessor_id = self.chain_tail.id
        state.add_pointer(pointer)
        self.chain_tail = pointer
