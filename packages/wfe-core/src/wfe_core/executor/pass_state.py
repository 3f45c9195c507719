"""What one pass accumulates: changed pointers, new subscriptions, errors and lifecycle events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe_core.definition import WorkflowDefinition
from wfe_core.models import (
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    LifecycleEventBase,
    PointerStatus,
    WorkflowInstance,
)
from wfe_core.models.instance import new_pointer
from wfe_core.models.status import POINTER_PENDING, POINTER_PENDING_PREDECESSOR


@dataclass(init=False)
class PassState:
    """The mutable record of a pass; the host persists ``changed`` pointers and ``subscriptions`` afterwards.

    Every field starts as ``__init__`` sets it (empty, False or None but for the first three and ``wanted``)."""

    instance: WorkflowInstance
    definition: WorkflowDefinition
    now: datetime
    changed: dict[str, ExecutionPointer]
    subscriptions: list[EventSubscription]
    errors: list[ExecutionError]
    events: list[LifecycleEventBase]
    ran: list[str]
    """Ids of the pointers whose step ran in this pass."""
    completed: bool
    """True when this pass completed the workflow (naturally or through end_workflow)."""
    wanted: frozenset[str] | None
    """The kinds of lifecycle event someone takes (None: every kind); ``emit`` builds no other."""
    ended: datetime | None
    """When the pass ended, if the executor knows it without reading the clock again: the end of its one step,
    when nothing could run between that step's end and the end of the pass (no other step, nothing released
    after it). None otherwise; whoever writes the pass then reads the clock."""

    successors_waiting: bool | None
    """Whether an open pointer may be waiting for its predecessor (``PENDING_PREDECESSOR``); None when not known
    yet. ``activate_successors`` looks for them only when it may: most passes have none."""

    def __init__(
        self,
        instance: WorkflowInstance,
        definition: WorkflowDefinition,
        now: datetime,
        *,
        wanted: frozenset[str] | None = None,
    ) -> None:
        # written out: the dataclass's own __init__ calls a factory per list, and every pass makes one
        self.instance, self.definition, self.now = instance, definition, now
        self.changed = {}
        self.subscriptions = []
        self.errors = []
        self.events = []
        self.ran = []
        self.completed = False
        self.wanted = wanted
        self.ended = None
        self.successors_waiting = None

    def touch(self, pointer: ExecutionPointer) -> ExecutionPointer:
        """Record that ``pointer`` changed and must be written."""
        self.changed[pointer.id] = pointer
        return pointer

    def add_pointer(self, pointer: ExecutionPointer) -> ExecutionPointer:
        self.instance.execution_pointers.append(pointer)
        f = pointer.__dict__  # (as in ``end_pointer``)
        if f["status"] is POINTER_PENDING_PREDECESSOR:
            self.successors_waiting = True
        self.changed[f["id"]] = pointer  # (touch)
        return pointer

    def emit(self, event_type: type[LifecycleEventBase], **fields: Any) -> None:
        wanted = self.wanted
        if wanted is None or event_type.__name__ in wanted:
            self.events.append(event_type.of(self.instance, self.now, **fields))

    def emit_step(self, event_type: type[LifecycleEventBase], pointer: ExecutionPointer) -> None:
        """``emit`` an event about ``pointer``'s step (its step id, pointer id and step name)."""
        wanted = self.wanted
        if wanted is None or event_type.__name__ in wanted:
            self.events.append(
                event_type.of(
                    self.instance,
                    self.now,
                    step_id=pointer.step_id,
                    pointer_id=pointer.id,
                    step_name=pointer.step_name,
                )
            )

    def step_fields(self, pointer: ExecutionPointer) -> dict[str, Any]:
        return {"step_id": pointer.step_id, "pointer_id": pointer.id, "step_name": pointer.step_name}

    def end_pointer(self, pointer: ExecutionPointer, status: PointerStatus) -> None:
        f = pointer.__dict__  # a model's attribute reads go through pydantic's hook: its dict costs less
        pointer.active = False
        pointer.status = status
        pointer.sleep_until = None
        if f["end_time"] is None:
            pointer.end_time = self.now
        self.changed[f["id"]] = pointer  # (touch)

    # -- pointer factory -------------------------------------------------------------------------------

    def next_pointer(
        self, after: ExecutionPointer, step_id: int, *, pending: ExecutionPointer | None = None
    ) -> ExecutionPointer:
        """A pointer for the step after ``after`` (same scope and item). With ``pending``, it waits, inactive,
        until ``pending`` proceeds."""
        # the engine's own values: built without validation, which cost more than the rest of a pass's bookkeeping
        f = after.__dict__  # (as in ``end_pointer``)
        pointer = new_pointer(
            step_id,
            self.definition.steps[step_id].name,
            pending.id if pending is not None else f["id"],
            f["scope"],
            f["context_item"],
        )
        if pending is not None:
            pointer.active = False
            pointer.status = POINTER_PENDING_PREDECESSOR
        return self.add_pointer(pointer)

    def child_pointer(self, parent: ExecutionPointer, step_id: int, item: Any) -> ExecutionPointer:
        pointer = new_pointer(
            step_id, self.definition.steps[step_id].name, parent.id, [parent.id, *parent.scope], item
        )
        parent.children.append(pointer.id)
        self.touch(parent)
        return self.add_pointer(pointer)

    def activate_successors(self, pointer: ExecutionPointer) -> None:
        """Start the pointers that were waiting for ``pointer`` to proceed (compensation chains)."""
        if self.successors_waiting is False:
            return
        for p in self.instance.open_pointers():  # a pointer waiting for its predecessor has not ended
            if p.status is POINTER_PENDING_PREDECESSOR and p.predecessor_id == pointer.id:
                p.active = True
                p.status = POINTER_PENDING
                self.touch(p)

    def open_scopes(self) -> set[str]:
        """Ids of containers that still have a pointer running inside them."""
        scopes: set[str] = set()
        for p in self.instance.open_pointers():
            if p.scope:
                scopes.update(p.scope)
        return scopes
