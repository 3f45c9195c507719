"""Fan-out of lifecycle events to the host's callbacks, async iterators and workflow waiters."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from wfe_core.models import (
    LifecycleEvent,
    WorkflowCompleted,
    WorkflowInstance,
    WorkflowResumed,
    WorkflowStatus,
    WorkflowSuspended,
    WorkflowTerminated,
)
from wfe_core.protocols import LifecycleCallback
from wfe_core.protocols.lifecycle import interest_changed

log = logging.getLogger("wfe.lifecycle")

STATUS_EVENTS = (WorkflowCompleted, WorkflowTerminated, WorkflowSuspended, WorkflowResumed)
"""The events that change an instance's status: the only ones that wake ``wait_for_workflow`` (a step's
events do not, so a long workflow is not reloaded at every step)."""


STATUS_KINDS = frozenset(kind.__name__ for kind in STATUS_EVENTS)


class LifecycleDispatcher:
    """The host's one subscriber of its hub: hands each event to the host's callbacks, streams and waiters.

    It says which kinds it takes (``wanted_kinds``, see ``LifecycleInterest``): the status events always (the
    waiters of ``wait_for_workflow``), every kind while a callback without ``kinds`` or a stream is attached,
    otherwise the kinds the callbacks were registered for."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[LifecycleCallback, frozenset[str] | None]] = []
        self._streams: set[asyncio.Queue[Any]] = set()
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._wanted: frozenset[str] | None = STATUS_KINDS

    def add_callback(self, callback: LifecycleCallback, kinds: frozenset[str] | None = None) -> None:
        """Call ``callback`` for the events of ``kinds`` (None: every kind)."""
        self.callbacks.append((callback, kinds))
        self._refresh()

    def remove_callback(self, callback: LifecycleCallback) -> None:
        """Stop calling ``callback`` (every registration of it); nothing happens when it is not registered."""
        self.callbacks = [(c, kinds) for c, kinds in self.callbacks if c is not callback]
        self._refresh()

    def wanted_kinds(self) -> frozenset[str] | None:
        return self._wanted

    def _refresh(self) -> None:
        wanted = set(STATUS_KINDS)
        for _, kinds in self.callbacks:
            if kinds is None:
                self._wanted = None
                interest_changed()
                return
            wanted |= kinds
        self._wanted = None if self._streams else frozenset(wanted)
        interest_changed()

    async def __call__(self, event: LifecycleEvent) -> None:
        await self.dispatch(event)

    async def dispatch(self, event: LifecycleEvent) -> None:
        waiters = self._waiters.get(event.workflow_id) if isinstance(event, STATUS_EVENTS) else None
        if waiters:
            for waiter in waiters:
                waiter.set()
        for stream in self._streams:
            stream.put_nowait(event)
        for callback, kinds in list(self.callbacks):
            if kinds is not None and event.kind not in kinds:
                continue
            try:
                result = callback(event)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("lifecycle callback %r failed on %s", callback, event.kind)

    async def events(self) -> AsyncIterator[LifecycleEvent]:
        stream: asyncio.Queue[Any] = asyncio.Queue()
        self._streams.add(stream)
        self._refresh()
        try:
            while True:
                yield await stream.get()
        finally:
            self._streams.discard(stream)
            self._refresh()

    def waiter(self, workflow_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(workflow_id, set()).add(event)
        return event

    def drop_waiter(self, workflow_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(workflow_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[workflow_id]

    async def wait_for(
        self,
        load: Callable[[str], Awaitable[WorkflowInstance]],
        workflow_id: str,
        seconds: float,
        statuses: Sequence[WorkflowStatus],
        describe: Callable[[WorkflowInstance], Awaitable[str]] | None = None,
    ) -> WorkflowInstance:
        """The instance (read with ``load``) once its status is one of ``statuses``, woken by its lifecycle
        events (and every half second); TimeoutError after ``seconds``, saying what the instance is doing
        (``await describe(instance)``) or else its status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        instance = await load(workflow_id)
        if instance.status in statuses:
            return instance
        waiter = self.waiter(instance.id)
        try:
            while True:
                # Cleared before reading, never after: an event that lands while the read is in flight then
                # wakes the wait below instead of being lost (which would cost a whole wait interval).
                waiter.clear()
                instance = await load(instance.id)
                if instance.status in statuses:
                    return instance
                remaining = deadline - loop.time()
                if remaining <= 0:
                    doing = instance.status.value if describe is None else await describe(instance)
                    raise TimeoutError(
                        f"workflow {instance.id} ({instance.workflow_definition_id} v{instance.version}) is not "
                        f"{' or '.join(s.value for s in statuses)} after {seconds:g}s: it is {doing}"
                    )
                # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation of the caller.
                woken = asyncio.ensure_future(waiter.wait())
                try:
                    await asyncio.wait({woken}, timeout=min(remaining, 0.5))
                finally:
                    woken.cancel()
        finally:
            self.drop_waiter(instance.id, waiter)
