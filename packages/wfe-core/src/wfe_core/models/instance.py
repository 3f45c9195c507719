"""The persisted state of a workflow instance and its execution pointers."""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from wfe_core.models.execution_error import ExecutionError
from wfe_core.models.status import WORKFLOW_RUNNABLE, PointerStatus, WorkflowStatus
from wfe_core.models.trusted import assembled

_TAILS_PER_BATCH = 256
_tails: list[str] = []
"""The random parts of ids to come, formatted: ``-7xxx-Vxxx-xxxxxxxxxxxx`` (version 7, RFC 9562 variant)."""
_VARIANTS = bytes(b"89ab"[byte & 3] for byte in range(256))
"""A random byte to a variant digit: the two variant bits ``10``, then two of the byte's random bits."""
_stamp: tuple[int, str] = (-1, "")
"""The last millisecond an id was made in, and the ids' first two groups for it (one tuple: threads read both
together)."""


def _forget_random() -> None:
    _tails.clear()  # a forked child must not hand out its parent's ids


os.register_at_fork(after_in_child=_forget_random)


def _more_tails() -> None:
    # per id 18 random hex digits and a variant digit with two random bits: 74 random bits
    count = _TAILS_PER_BATCH
    h = os.urandom(9 * count).hex()
    variants = os.urandom(count).translate(_VARIANTS).decode()
    _tails.extend(
        [
            f"-7{h[i : i + 3]}-{v}{h[i + 3 : i + 6]}-{h[i + 6 : i + 18]}"
            for i, v in zip(range(0, 18 * count, 18), variants, strict=True)
        ]
    )


def new_id() -> str:
    """A fresh UUID version 7 string (RFC 9562): the id of instances, pointers, events and subscriptions.

    The first 48 bits are the Unix time in milliseconds, the other 74 random (``os.urandom``, read for 256 ids
    at a time and formatted in one go): an id made in a later millisecond sorts after one made earlier, so a
    store's indexes on ids grow at their end instead of at random places, and a commit writes fewer pages.
    Formatted without the ``UUID`` object (a pass creates several ids; the object and a system call each cost
    more than the rest), the time part once per millisecond. Safe from threads: ``list.pop`` hands each random
    part out once."""
    global _stamp
    while True:
        try:
            tail = _tails.pop()
            break
        except IndexError:  # used up (other threads may take the new batch first: then again)
            _more_tails()
    ms = time.time_ns() // 1_000_000
    stamp = _stamp
    if stamp[0] != ms:
        stamp = _stamp = (ms, f"{ms >> 16:08x}-{ms & 0xFFFF:04x}")
    return stamp[1] + tail


class ExecutionPointer(BaseModel):
    """One activation of one step of a workflow instance.

    ``scope`` lists the ids of the container pointers this pointer runs inside, innermost first; stores keep
    its order. ``children`` lists the pointers a container spawned.
    """

    model_config = ConfigDict(validate_assignment=False, arbitrary_types_allowed=True)

    # Attribute writes go straight to the instance's dict: the engine writes pointers several times a pass,
    # and pydantic's own __setattr__ (which also tracks ``model_fields_set``, unused here) cost three times as
    # much. Assignment is not validated either way (``validate_assignment=False``). __delattr__ is object's
    # too: with both of them object's, the class's attribute writes take object's C slot directly (with
    # pydantic's __delattr__ left in place, each write went through a Python-level call of the wrapper: four
    # times as long).
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__

    id: str = Field(default_factory=new_id)
    step_id: int
    step_name: str | None = None
    active: bool = True
    status: PointerStatus = PointerStatus.PENDING
    sleep_until: datetime | None = None
    persistence_data: Any = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    event_name: str | None = None
    event_key: str | None = None
    event_published: bool = False
    event_data: Any = None
    retry_count: int = 0
    children: list[str] = Field(default_factory=list)
    scope: list[str] = Field(default_factory=list)
    context_item: Any = None
    predecessor_id: str | None = None
    outcome: Any = None
    extension_attributes: dict[str, Any] = Field(default_factory=dict)


_POINTER_DEFAULTS: dict[str, Any] = {
    name: None if info.default_factory is not None else info.default
    for name, info in ExecutionPointer.model_fields.items()
}
"""A new pointer's fields in model order, each at its default (those with a factory filled in per pointer)."""


def new_pointer(
    step_id: int,
    step_name: str | None,
    predecessor_id: str | None = None,
    scope: list[str] | None = None,
    context_item: Any = None,
) -> ExecutionPointer:
    """A new pending pointer for a step, built from the engine's own values without validation.

    The pointer every pass makes, so built directly rather than through ``trusted`` (which looks its plan up,
    checks the required fields and calls each default factory by name); the same fields, the same model."""
    fields = _POINTER_DEFAULTS.copy()
    fields["id"] = new_id()
    fields["step_id"] = step_id
    fields["step_name"] = step_name
    fields["predecessor_id"] = predecessor_id
    fields["children"] = []
    fields["scope"] = [] if scope is None else scope[:]
    fields["context_item"] = context_item
    fields["extension_attributes"] = {}
    given = (
        {"step_id", "step_name", "predecessor_id", "scope", "context_item"}
        if predecessor_id is not None
        else {"step_id", "step_name"}
    )
    return assembled(ExecutionPointer, fields, given, None)


class WorkflowInstance(BaseModel):
    """A running (or finished) workflow: its status, data and execution pointers.

    ``next_execution`` is None when nothing is scheduled, and a time at or before now when the instance should
    run now. ``name`` is the human name ``{definition_id}-{N}`` the store assigns on create. ``errors`` is filled
    only by the host's reads (see the field). ``forked_from`` is
    the id of the instance this one was forked from (``WorkflowHost.fork_workflow``), None otherwise. ``queue``
    names the queue with limits the instance runs in (None: none) and ``priority`` its place among the queue's
    waiters (lower first).
    """

    model_config = ConfigDict(validate_assignment=False, arbitrary_types_allowed=True)

    # as ExecutionPointer's; the private caches are kept in the private dict
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__

    id: str = ""
    name: str = ""
    workflow_definition_id: str
    version: int
    description: str | None = None
    reference: str | None = None
    status: WorkflowStatus = WorkflowStatus.RUNNABLE
    data: Any = None
    next_execution: datetime | None = None
    create_time: datetime
    complete_time: datetime | None = None
    parent_workflow_id: str | None = None
    root_workflow_id: str | None = None
    forked_from: str | None = None
    queue: str | None = None
    priority: int = 0
    execution_pointers: list[ExecutionPointer] = Field(default_factory=list)
    errors: list[ExecutionError] = Field(default_factory=list)
    """The failure records of the instance, oldest first, on the instances that ``WorkflowHost.get_workflow``,
    ``wait_for_workflow`` and ``run_sync`` return (the host reads them from the store after the instance). Not
    stored with the instance: stores keep errors apart (``PersistenceProvider.persist_errors`` and
    ``get_errors``), never write this field and return instances with it empty, as the engine reads them."""

    # The pointers that have not ended, kept between passes so that a pass costs what is open, not the whole
    # history (SPEC §4 item 8). Valid for the list object it was built from, up to the length it has seen.
    _open: list[ExecutionPointer] | None = PrivateAttr(default=None)
    _open_source: list[ExecutionPointer] | None = PrivateAttr(default=None)
    _open_seen: int = PrivateAttr(default=0)
    _index: dict[str, int] | None = PrivateAttr(default=None)
    _index_source: list[ExecutionPointer] | None = PrivateAttr(default=None)

    def open_pointers(self) -> list[ExecutionPointer]:
        """The pointers that have not ended (``end_time`` is None), in pointer order.

        Incremental: it re-checks the pointers that were open at the last call and looks only at pointers
        appended since, so it relies on what the engine does: pointers are appended, and an ended pointer never
        opens again. Replacing ``execution_pointers`` (or shortening it) starts afresh. Do not mutate the list.
        """
        return open_pointers(self)

    def pointer_positions(self) -> dict[str, int]:
        """Each pointer's position in ``execution_pointers``, by id.

        Incremental like ``open_pointers``: kept for the list object it was built from and extended with the
        pointers appended since; a list that was replaced, shortened or reordered starts afresh (checked on
        the last pointer seen). Do not mutate the returned dict."""
        pointers = self.execution_pointers
        private = self.__pydantic_private__
        if private is None:
            return {p.id: i for i, p in enumerate(pointers)}
        index: dict[str, int] | None = private["_index"]
        seen = len(index) if index is not None else 0
        if (
            index is None
            or private["_index_source"] is not pointers
            or len(pointers) < seen
            or (seen and index.get(pointers[seen - 1].id) != seen - 1)
        ):
            index = {p.id: i for i, p in enumerate(pointers)}
        elif len(pointers) > seen:
            for i in range(seen, len(pointers)):
                index[pointers[i].id] = i
        private["_index"] = index
        private["_index_source"] = pointers
        return index

    def pointer(self, pointer_id: str) -> ExecutionPointer:
        """The pointer with this id (KeyError when absent)."""
        position = self.pointer_positions().get(pointer_id)
        if position is not None:
            pointer = self.execution_pointers[position]
            if pointer.id == pointer_id:
                return pointer
        for p in self.execution_pointers:  # the list was changed in place: look it up the slow way
            if p.id == pointer_id:
                return p
        raise KeyError(pointer_id)

    def is_branch_complete(self, pointer_id: str) -> bool:
        """True when every pointer running inside container pointer ``pointer_id`` has ended."""
        for p in self.open_pointers():
            if pointer_id in p.scope:
                return False
        return True

    def data_json(self) -> Any:
        """The data as plain JSON-able values (a pydantic model is dumped)."""
        return to_jsonable(self.data)


def open_pointers(instance: WorkflowInstance) -> list[ExecutionPointer]:
    """``instance.open_pointers()``, as the engine calls it each pass: a function, not a method, as a pydantic
    model's attribute reads (and a method's is one) go through its ``__getattr__`` hook, and the method costs a
    bound method object besides."""
    pointers = instance.execution_pointers
    # the private dict directly: pydantic's attribute hooks would cost more than the scan they save
    private = instance.__pydantic_private__
    if private is None:  # built around __init__ (a bare object.__new__): no cache to keep
        return [p for p in pointers if p.end_time is None]
    cached = private["_open"]
    seen = private["_open_seen"]
    if cached is None or private["_open_source"] is not pointers or len(pointers) < seen:
        fresh = [p for p in pointers if p.end_time is None]
    else:
        # loops, not comprehensions: the lists are short (one or two pointers), and a comprehension is a
        # function call of its own
        fresh = []
        for p in cached:
            if p.end_time is None:
                fresh.append(p)
        for i in range(seen, len(pointers)):
            p = pointers[i]
            if p.end_time is None:
                fresh.append(p)
    private["_open"] = fresh
    private["_open_source"] = pointers
    private["_open_seen"] = len(pointers)
    return fresh


def to_jsonable(value: Any) -> Any:
    """Plain JSON-able values for ``value``: pydantic models are dumped in JSON mode."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


_INSTANCE_PRIVATE: dict[str, Any] = {
    name: attribute.get_default() for name, attribute in WorkflowInstance.__private_attributes__.items()
}


def fresh_instance_private() -> dict[str, Any] | None:
    """The private state of a new instance (every default is immutable: None or 0), a dict of its own."""
    return _INSTANCE_PRIVATE.copy() if _INSTANCE_PRIVATE else None


_STARTED_FIELDS = frozenset(
    {
        "id", "name", "workflow_definition_id", "version", "description", "reference", "data",
        "next_execution", "create_time", "parent_workflow_id", "root_workflow_id", "forked_from", "queue",
        "priority", "execution_pointers",
    }
)  # fmt: skip


def new_instance(
    *,
    id: str,  # noqa: A002 - the field's name
    name: str,
    workflow_definition_id: str,
    version: int,
    description: str | None,
    reference: str | None,
    data: Any,
    now: datetime,
    parent_workflow_id: str | None,
    root_workflow_id: str | None,
    forked_from: str | None,
    queue: str | None,
    priority: int,
    execution_pointers: list[ExecutionPointer],
) -> WorkflowInstance:
    """A new RUNNABLE instance due ``now`` (created then), built from the host's own values without validation.

    What every start builds, so built directly, as ``new_pointer`` builds pointers: the same fields (every one
    named here counted as set), the same model."""
    fields = {
        "id": id,
        "name": name,
        "workflow_definition_id": workflow_definition_id,
        "version": version,
        "description": description,
        "reference": reference,
        "status": WORKFLOW_RUNNABLE,
        "data": data,
        "next_execution": now,
        "create_time": now,
        "complete_time": None,
        "parent_workflow_id": parent_workflow_id,
        "root_workflow_id": root_workflow_id,
        "forked_from": forked_from,
        "queue": queue,
        "priority": priority,
        "execution_pointers": execution_pointers,
        "errors": [],
    }
    return assembled(WorkflowInstance, fields, set(_STARTED_FIELDS), fresh_instance_private())
