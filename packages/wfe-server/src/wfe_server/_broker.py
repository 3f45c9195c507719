"""Fan-out of the host's lifecycle events and step log lines to the server's stream subscribers.

The broker is the host's log sink (it passes every line on to the sink it wraps, such as the command line's
progress view) and follows the host's lifecycle events. Each subscriber gets a bounded queue: a subscriber too
slow to keep up loses the oldest messages rather than slowing the host. The lines of the steps that run on
this host are kept per run (the last ``keep_lines``, for at most ``MAX_RUNS_KEPT`` runs) until the run ends,
so a page opened mid-step shows the output so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wfe_core.models import LifecycleEvent, PointerStatus, WorkflowInstance
from wfe_core.step import LogChunk, LogSink

ENDING_KINDS = frozenset({"WorkflowCompleted", "WorkflowTerminated"})
MAX_RUNS_KEPT = 1000
"""How many runs' lines are kept at most (a run that ended on another host is never seen to end here)."""


@dataclass(slots=True)
class Message:
    """One stream message: its SSE event name, the workflow it concerns, and its JSON payload."""

    event: str
    workflow_id: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        return f"event: {self.event}\ndata: {json.dumps(self.data, default=str)}\n\n".encode()


@dataclass(slots=True, eq=False)
class Subscriber:
    workflow_id: str | None
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))


class Broker:
    """The log sink and event fan-out of one server."""

    def __init__(self, inner: LogSink | None = None, *, keep_lines: int = 2000) -> None:
        self._inner = inner
        self._subscribers: set[Subscriber] = set()
        self._lines: dict[str, deque[dict[str, Any]]] = {}
        self._running: dict[str, dict[str, str]] = {}  # workflow id → pointer id → ISO start time
        self._keep = keep_lines
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the subscribers' queues belong to (log lines may be written from step threads)."""
        self._loop = loop

    # -- the log sink --------------------------------------------------------------------------------------

    def write(self, chunk: LogChunk) -> None:
        if self._inner is not None:
            self._inner.write(chunk)
        line = {
            "workflow_id": chunk.workflow_id,
            "pointer_id": chunk.pointer_id,
            "step_id": chunk.step_id,
            "step": chunk.step_name,
            "stream": chunk.stream,
            "text": chunk.text.rstrip("\n"),
            "time": chunk.time.isoformat(),
        }
        message = Message("log", chunk.workflow_id, line)
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(message)
        else:
            loop.call_soon_threadsafe(self._deliver, message)

    def overlay(self, instance: WorkflowInstance) -> WorkflowInstance:
        """``instance`` with the pointers that run on this host right now marked Running, since the time they
        started: the store records a step's status and times when its pass ends, so a step that is still
        running reads as Pending there."""
        running = self._running.get(instance.id)
        if not running:
            return instance
        pointers = [
            p.model_copy(
                update={
                    "status": PointerStatus.RUNNING,
                    "start_time": p.start_time or datetime.fromisoformat(running[p.id]),
                }
            )
            if p.id in running and p.end_time is None and p.status is PointerStatus.PENDING
            else p
            for p in instance.execution_pointers
        ]
        return instance.model_copy(update={"execution_pointers": pointers})

    def lines(self, workflow_id: str, step: str | None = None) -> list[dict[str, Any]]:
        """The kept lines of a run that has not ended (on this host), oldest first."""
        kept = self._lines.get(workflow_id, ())
        return [line for line in kept if step is None or line["step"] == step]

    # -- lifecycle events ----------------------------------------------------------------------------------

    def publish_event(self, event: LifecycleEvent) -> None:
        data = event.model_dump(mode="json")
        self._deliver(Message("lifecycle", event.workflow_id, data))

    async def follow(self, events: AsyncIterator[LifecycleEvent]) -> None:
        """Forward the host's lifecycle events until cancelled."""
        async for event in events:
            self.publish_event(event)

    # -- subscribers ---------------------------------------------------------------------------------------

    def _deliver(self, message: Message) -> None:
        kind = message.data.get("kind")
        if message.event == "log":
            if message.workflow_id not in self._lines and len(self._lines) >= MAX_RUNS_KEPT:
                # the run that started writing longest ago (it may have ended on another host)
                oldest = next(iter(self._lines))
                del self._lines[oldest]
                self._running.pop(oldest, None)
            kept = self._lines.setdefault(message.workflow_id, deque(maxlen=self._keep))
            kept.append(message.data)
            self._started(message)
        elif kind == "StepStarted":
            self._started(message)
        elif kind in ("StepCompleted", "WorkflowError") and message.data.get("pointer_id"):
            self._running.get(message.workflow_id, {}).pop(str(message.data["pointer_id"]), None)
        elif kind in ENDING_KINDS:
            self._lines.pop(message.workflow_id, None)
            self._running.pop(message.workflow_id, None)
        for subscriber in list(self._subscribers):
            if subscriber.workflow_id is not None and subscriber.workflow_id != message.workflow_id:
                continue
            queue = subscriber.queue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    def _started(self, message: Message) -> None:
        """Note that a pointer runs, from its StepStarted event's time or its first log line's."""
        started = self._running.setdefault(message.workflow_id, {})
        started.setdefault(str(message.data["pointer_id"]), str(message.data["time"]))

    def subscribe(self, workflow_id: str | None = None) -> Subscriber:
        subscriber = Subscriber(workflow_id)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
