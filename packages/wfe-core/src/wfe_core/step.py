"""StepBody, the class users derive steps from, and the context a step runs with."""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from wfe_core.clock import SystemClock
from wfe_core.models import ExecutionResult

if TYPE_CHECKING:
    import asyncio

    from wfe_core.artifacts import StepArtifacts
    from wfe_core.definition import WorkflowDefinition, WorkflowStep
    from wfe_core.models import ExecutionPointer, WorkflowInstance
    from wfe_core.protocols import Clock
    from wfe_core.protocols.artifacts import ArtifactStore


class StepBody:
    """Base class of steps. Override ``run`` as ``async def`` or plain ``def`` (a plain one runs in a thread).

    Inputs are plain attributes, set by the builder's ``.input(attr, fn)`` mappings before each run; outputs are
    read from attributes by ``.output(...)`` mappings after a run that proceeds. Returning None means ``next()``.
    """

    run_in_thread: ClassVar[bool] = True
    """Whether a plain (non-async) ``run`` is moved to a worker thread; built-in steps that never block say no."""

    def __init__(self, **attributes: Any) -> None:
        """Set the given attributes (``FetchData(url="...")`` as an instance factory's result)."""
        for name, value in attributes.items():
            setattr(self, name, value)

    def run(self, ctx: StepExecutionContext) -> ExecutionResult | None | Awaitable[ExecutionResult | None]:
        return ExecutionResult.next()


@dataclass(frozen=True, slots=True)
class LogChunk:
    """One line a step wrote to its log (shell output, ``console.log`` of a script, ``ctx.log``)."""

    workflow_id: str
    pointer_id: str
    step_id: int
    step_name: str | None
    stream: Literal["stdout", "stderr", "log"]
    text: str
    time: datetime


class LogSink(Protocol):
    """Receives step log lines as they are written (the CLI's progress view is one)."""

    def write(self, chunk: LogChunk) -> None: ...


class CancellationSignal:
    """Set when the step should stop: the workflow was terminated or the host is stopping."""

    __slots__ = ("_cancelled", "_event")

    def __init__(self) -> None:
        self._cancelled = False
        self._event: asyncio.Event | None = None  # made for the first waiter: most signals are never awaited

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._cancelled:
            return
        if self._event is None:
            import asyncio  # not at the top: compiling a definition (wfe validate) needs no event loop

            self._event = asyncio.Event()
        await self._event.wait()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop, or None; without importing asyncio (``wfe validate`` compiles definitions without
    it): when it was never imported, no loop can be running."""
    events = sys.modules.get("asyncio.events")
    return None if events is None else events._get_running_loop()


@dataclass(slots=True)
class StepExecutionContext:
    """What a step sees while it runs."""

    workflow: WorkflowInstance
    step: WorkflowStep
    pointer: ExecutionPointer
    definition: WorkflowDefinition
    item: Any = None
    cancellation: CancellationSignal = field(default_factory=CancellationSignal)
    log_sink: LogSink | None = None
    clock: Clock = field(default_factory=SystemClock)
    services: Any = None
    """Host services for built-in primitives (sub-workflows); None outside a host."""
    artifact_store: ArtifactStore | None = None
    """Where ``artifacts`` keeps its files; None means the host's (``services.artifact_store``)."""
    _artifacts: StepArtifacts | None = field(default=None, init=False, repr=False, compare=False)
    _loop: asyncio.AbstractEventLoop | None = field(
        default_factory=_running_loop, init=False, repr=False, compare=False
    )
    """The loop a step in a worker thread hands its artifact calls to; None outside a running loop."""

    @property
    def artifacts(self) -> StepArtifacts:
        """The workflow's artifacts: ``await ctx.artifacts.put(name, path)``, ``await ctx.artifacts.get(name)``
        (see :class:`wfe_core.artifacts.StepArtifacts`)."""
        if self._artifacts is None:
            from wfe_core.artifacts import StepArtifacts

            store = self.artifact_store or getattr(self.services, "artifact_store", None)
            self._artifacts = StepArtifacts(store, self.workflow.id, lambda: self.workflow.data, self._loop)
        return self._artifacts

    async def release(self) -> None:
        """Remove what the step's run left behind (the temporary folders of ``artifacts.get``)."""
        if self._artifacts is not None:
            await self._artifacts.release()

    @property
    def data(self) -> Any:
        """The workflow data (a pydantic model, or a dict)."""
        return self.workflow.data

    @property
    def config(self) -> dict[str, Any]:
        """The step's static configuration (the builder's ``.config({...})``; a YAML step's ``config:``). It is
        shared by every run of the step: read it, do not change it."""
        return self.step.config

    @property
    def persistence_data(self) -> Any:
        """What this step returned as persistence data on its previous run (None on the first)."""
        return self.pointer.persistence_data

    @property
    def idempotency_key(self) -> str:
        """Stable across re-executions of the same pointer (crash recovery, retries): use it to deduplicate
        side effects."""
        return f"{self.workflow.id}:{self.pointer.id}"

    def log(self, text: str, *, stream: Literal["stdout", "stderr", "log"] = "log") -> None:
        """Send one line to the host's log sink, if any."""
        if self.log_sink is not None:
            self.log_sink.write(
                LogChunk(
                    self.workflow.id,
                    self.pointer.id,
                    self.step.id,
                    self.step.name,
                    stream,
                    text,
                    self.clock.now(),
                )
            )
