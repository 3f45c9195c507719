"""When the instance should run next, and whether it has completed (SPEC §3 "Scheduling")."""

from __future__ import annotations

from datetime import datetime

from wfe_core.executor.pass_state import PassState
from wfe_core.executor.result_processor import complete_workflow
from wfe_core.models.instance import open_pointers as open_pointers_of
from wfe_core.models.status import WORKFLOW_RUNNABLE


def determine_next_execution(state: PassState) -> None:
    instance = state.instance
    instance.next_execution = None
    if instance.__dict__["status"] is not WORKFLOW_RUNNABLE:
        return
    earliest: datetime | None = None
    open_pointers = open_pointers_of(instance)
    open_scopes: set[str] | None = None  # ids of the containers with a branch running, once a pointer is due
    for p in open_pointers:  # an active pointer has not ended
        # the fields read from the pointer's dict: each read through pydantic's __getattr__ hook costs more
        f = p.__dict__
        if not f["active"]:
            continue
        sleep_until = f["sleep_until"]
        if sleep_until is not None and sleep_until > state.now:
            earliest = sleep_until if earliest is None or sleep_until < earliest else earliest
            continue
        if open_scopes is None:
            open_scopes = set()
            for q in open_pointers:
                scope = q.scope
                if scope:
                    open_scopes.update(scope)
        if f["id"] in open_scopes:
            continue  # a container waiting for its branch: the branch's pointers decide
        instance.next_execution = state.now
        return
    if earliest is not None:
        instance.next_execution = earliest
        return
    if not open_pointers:
        complete_workflow(state)
