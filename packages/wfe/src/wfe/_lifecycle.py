"""Fan-out of lifecycle events to the host's callbacks, async iterators and workflow waiters."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

from wfe_core.models import (
    LifecycleEvent,
    WorkflowCompleted,
    WorkflowResumed,
    WorkflowSuspended,
    WorkflowTerminated,
)
from wfe_core.protocols import LifecycleCallback

log = logging.getLogger("wfe.lifecycle")

STATUS_EVENTS = (WorkflowCompleted, WorkflowTerminated, WorkflowSuspended, WorkflowResumed)
"""The events that change an instance's status: the only ones that wake ``wait_for_workflow`` (a step's
events do not, so a long workflow is not reloaded at every step)."""


class LifecycleDispatcher:
    def __init__(self) -> None:
        self.callbacks: list[LifecycleCallback] = []
        self._streams: set[asyncio.Queue[Any]] = set()
        self._waiters: dict[str, set[asyncio.Event]] = {}

    async def dispatch(self, event: LifecycleEvent) -> None:
        waiters = self._waiters.get(event.workflow_id) if isinstance(event, STATUS_EVENTS) else None
        if waiters:
            for waiter in waiters:
                waiter.set()
        for stream in self._streams:
            stream.put_nowait(event)
        for callback in list(self.callbacks):
            try:
                result = callback(event)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("lifecycle callback %r failed on %s", callback, event.kind)

    async def events(self) -> AsyncIterator[LifecycleEvent]:
        stream: asyncio.Queue[Any] = asyncio.Queue()
        self._streams.add(stream)
        try:
            while True:
                yield await stream.get()
        finally:
            self._streams.discard(stream)

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
