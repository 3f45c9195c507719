"""When the instance should run next, and whether it has completed (SPEC §3 "Scheduling")."""

from __future__ import annotations

from datetime import datetime

from wfe_core.executor.pass_state import PassState
from wfe_core.executor.result_processor import complete_workflow
from wfe_core.models import WorkflowStatus


def determine_next_execution(state: PassState) -> None:
    instance = state.instance
    instance.next_execution = None
    if instance.status is not WorkflowStatus.RUNNABLE:
        return
    earliest: datetime | None = None
    open_pointers = instance.open_pointers()
    open_scopes: set[str] | None = None  # ids of the containers with a branch running, once a pointer is due
    for p in open_pointers:  # an active pointer has not ended
        if not p.active:
            continue
        if p.sleep_until is not None and p.sleep_until > state.now:
            earliest = p.sleep_until if earliest is None or p.sleep_until < earliest else earliest
            continue
        if open_scopes is None:
            open_scopes = set()
            for q in open_pointers:
                if q.scope:
                    open_scopes.update(q.scope)
        if p.id in open_scopes:
            continue  # a container waiting for its branch: the branch's pointers decide
        instance.next_execution = state.now
        return
    if earliest is not None:
        instance.next_execution = earliest
        return
    if not open_pointers:
        complete_workflow(state)
