"""Cancel conditions: cancel a step and everything inside it once its condition holds."""

from __future__ import annotations

from wfe_core.definition import call_flexible
from wfe_core.executor.pass_state import PassState
from wfe_core.executor.result_processor import proceed
from wfe_core.models import ExecutionResult, PointerStatus


def process_cancellations(state: PassState) -> None:
    instance = state.instance
    for step in state.definition.cancellable_steps():
        assert step.cancel_condition is not None
        open_pointers = [p for p in instance.open_pointers() if p.step_id == step.id]
        if not open_pointers or not call_flexible(step.cancel_condition, instance.data):
            continue
        for pointer in open_pointers:
            if step.proceed_on_cancel:
                proceed(state, pointer, step, ExecutionResult.next())
            state.end_pointer(pointer, PointerStatus.CANCELLED)
            for inner in instance.open_pointers():
                if inner.end_time is None and pointer.id in inner.scope:
                    state.end_pointer(inner, PointerStatus.CANCELLED)
