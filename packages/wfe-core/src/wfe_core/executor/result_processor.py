"""Applying an ExecutionResult to its pointer (SPEC §3)."""

from __future__ import annotations

from wfe_core import transitions
from wfe_core.definition import WorkflowStep
from wfe_core.executor.pass_state import PassState
from wfe_core.models import (
    EventSubscription,
    ExecutionPointer,
    ExecutionResult,
    PointerStatus,
    StepCompleted,
    WaitingForEvent,
)
from wfe_core.models.status import POINTER_COMPLETE, POINTER_RUNNING, POINTER_SKIPPED


def process_result(
    state: PassState, pointer: ExecutionPointer, step: WorkflowStep, result: ExecutionResult
) -> None:
    """Record the result on the pointer and create whatever pointers and subscriptions it asks for."""
    state.changed[pointer.id] = pointer  # (state.touch)
    pointer.persistence_data = result.persistence_data
    pointer.outcome = result.outcome_value
    pointer.sleep_until = None

    if result.proceed:
        proceed(state, pointer, step, result)
        return

    if result.branch_values is not None:
        if pointer.children and state.instance.is_branch_complete(pointer.id):
            pointer.children = []  # a new iteration: keep only the live branch, so the list stays small
        for value in result.branch_values:
            for child_step in step.children:
                state.child_pointer(pointer, child_step, value)
        pointer.status = POINTER_RUNNING

    if result.sleep_for is not None:
        pointer.sleep_until = state.now + result.sleep_for
        pointer.status = PointerStatus.SLEEPING
    elif result.event_name is not None:
        pointer.event_name = result.event_name
        pointer.event_key = result.event_key
        pointer.event_published = False
        pointer.event_data = None
        pointer.active = False
        pointer.status = PointerStatus.WAITING_FOR_EVENT
        state.subscriptions.append(
            EventSubscription(
                workflow_id=state.instance.id,
                step_id=pointer.step_id,
                execution_pointer_id=pointer.id,
                event_name=result.event_name,
                event_key=result.event_key or "",
                subscribe_as_of=result.event_as_of or state.instance.create_time,
                subscription_data=result.subscription_data,
            )
        )
        state.emit(
            WaitingForEvent,
            event_name=result.event_name,
            event_key=result.event_key or "",
            **state.step_fields(pointer),
        )


def proceed(state: PassState, pointer: ExecutionPointer, step: WorkflowStep, result: ExecutionResult) -> None:
    """Complete the pointer and start the steps its matching outcomes lead to."""
    state.end_pointer(pointer, POINTER_SKIPPED if result.skipped else POINTER_COMPLETE)
    pointer.outcome = result.outcome_value
    for outcome in step.outcomes:
        if outcome.next_step is not None and outcome.matches(result.outcome_value):
            state.next_pointer(pointer, outcome.next_step)
    if state.successors_waiting is not False:
        state.activate_successors(pointer)
    wanted = state.wanted
    if wanted is None or "StepCompleted" in wanted:  # (emit_step checks too; most passes want none)
        state.emit_step(StepCompleted, pointer)
    if step.ends_workflow:
        end_workflow(state)


def end_workflow(state: PassState) -> None:
    """Complete the workflow now, abandoning what is still open."""
    instance = state.instance
    for p in instance.execution_pointers:
        if p.end_time is None:
            state.end_pointer(p, PointerStatus.CANCELLED)
    complete_workflow(state)


def complete_workflow(state: PassState) -> None:
    state.completed = True
    state.events.append(transitions.complete(state.instance, state.now).event)
