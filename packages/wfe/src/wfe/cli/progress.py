"""The live progress view of a run: the step tree with status and durations, and step output as it is written.

On a terminal it is a rich ``Live`` table with output lines printed above it; otherwise (a pipe, CI logs) it
prints one plain line per step start, step end and output line. It is fed by three sources:

- a step middleware (:meth:`ProgressView.middleware`): the exact moment a step body starts and ends in this
  process (the store only learns about a step when its pass is persisted);
- the host's log sink (:meth:`ProgressView.write`): each output line;
- the stored instance (:meth:`ProgressView.update`): the tree, and the state of steps this process did not run
  (those completed before a resume, containers, skipped and waiting steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wfe_core.definition import NO_VALUE, WorkflowDefinition
from wfe_core.executor import StepMiddleware
from wfe_core.executor.executor import StepCall, StepResult
from wfe_core.models import ErrorKind, ExecutionPointer, PointerStatus, WorkflowInstance
from wfe_core.step import LogChunk, StepBody, StepExecutionContext

RUNNING = "running"
FAILED = "failed"
DONE = "done"
RETRYING = "retrying"

_STYLE = {
    RUNNING: ("⟳", "yellow"),
    RETRYING: ("↻", "yellow"),
    DONE: ("✓", "green"),
    FAILED: ("✗", "red"),
    PointerStatus.COMPLETE.value: ("✓", "green"),
    PointerStatus.PENDING.value: ("·", "dim"),
    PointerStatus.PENDING_PREDECESSOR.value: ("·", "dim"),
    PointerStatus.RUNNING.value: ("⟳", "yellow"),
    PointerStatus.SKIPPED.value: ("-", "dim"),
    PointerStatus.SLEEPING.value: ("z", "cyan"),
    PointerStatus.WAITING_FOR_EVENT.value: ("…", "cyan"),
    PointerStatus.FAILED.value: ("✗", "red"),
    PointerStatus.COMPENSATED.value: ("↺", "magenta"),
    PointerStatus.CANCELLED.value: ("-", "dim"),
}


@dataclass(slots=True)
class _Live:
    """What this process saw of one pointer's step run."""

    name: str
    started: float
    ended: float | None = None
    state: str = RUNNING
    error: str | None = None
    container: bool = False
    retry_at: float | None = None
    """When the step failed and waits for a retry: the clock time of the retry."""
    attempt: str = ""
    """``2 of 4``: the attempt the retry will be."""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_wait(seconds: float) -> str:
    """A wait as a countdown says it: ``500ms``, ``4s``, ``2m05s``."""
    if seconds < 0.95:
        return f"{round(seconds * 1000)}ms"
    if seconds < 59.5:
        return f"{round(seconds)}s"
    return format_duration(seconds)


def retry_plan(ctx: StepExecutionContext) -> tuple[float, str] | None:
    """When the step that just failed will be retried: the wait in seconds and ``2 of 4`` (the attempt it will
    be, of how many); None when it fails for good (or its error behaviour is not its own retry)."""
    behavior = ctx.step.error_behavior
    if behavior is None or behavior.kind is not ErrorKind.RETRY:
        return None
    done = ctx.pointer.retry_count
    if behavior.max_retries is not None and done >= behavior.max_retries:
        return None
    total = "" if behavior.max_retries is None else f" of {behavior.max_retries + 1}"
    return behavior.retry_delay(done + 1).total_seconds(), f"{done + 2}{total}"


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``2m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _stored_duration(pointer: ExecutionPointer) -> float | None:
    if pointer.start_time is None or pointer.end_time is None:
        return None
    return max(0.0, (pointer.end_time - pointer.start_time).total_seconds())


class ProgressView:
    """Shows one run (``workflow_id``), or with ``workflow_id=None`` the output of every run (``wfe serve``)."""

    def __init__(
        self,
        console: Console,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.workflow_id: str | None = None
        self.show_all = False
        self._interactive = console.is_terminal if live is None else live
        self._clock = clock
        self._runs: dict[str, _Live] = {}
        self._instance: WorkflowInstance | None = None
        self._live: Live | None = None
        self._plan: list[PlannedStep] = []

    # -- feeding ---------------------------------------------------------------------------------------

    def follow(self, workflow_id: str) -> None:
        """Show this run from now on."""
        self.workflow_id = workflow_id

    def plan(self, definition: WorkflowDefinition) -> None:
        """Show the steps the run has not reached yet as pending rows."""
        self._plan = planned_steps(definition)

    def _mine(self, workflow_id: str) -> bool:
        return self.show_all or workflow_id == self.workflow_id

    @property
    def middleware(self) -> StepMiddleware:
        """A step middleware that records when each step body starts and ends."""

        async def track(ctx: StepExecutionContext, body: StepBody, next_: StepCall) -> StepResult:
            if not self._mine(ctx.workflow.id):
                return await next_()
            name = ctx.pointer.step_name or ctx.step.name or f"step {ctx.step.id}"
            container = bool(ctx.step.children)
            earlier = self._runs.get(ctx.pointer.id)
            if container and earlier is not None:
                # A container's body runs on every pass while its children work: one span, no lines.
                run = earlier
                run.ended = None
            else:
                run = _Live(name=name, started=self._clock(), container=container)
                self._runs[ctx.pointer.id] = run
                if not container:
                    self._plain(Text.assemble(("▶ ", "yellow"), (name, "bold"), " started"))
            self.refresh()
            try:
                result = await next_()
            except Exception as exc:
                plan = retry_plan(ctx)
                if plan is not None:
                    run.retry_at, run.attempt = self._clock() + plan[0], plan[1]
                self._finish(run, RETRYING if plan is not None else FAILED, _first_line(exc))
                raise
            self._finish(run, DONE, None)
            return result

        return track

    def _finish(self, run: _Live, state: str, error: str | None) -> None:
        run.ended = self._clock()
        run.state = state
        run.error = error
        took = format_duration(run.ended - run.started)
        if run.container and state == DONE:
            pass
        elif state == DONE:
            self._plain(Text.assemble(("✓ ", "green"), (run.name, "bold"), f" done in {took}"))
        elif state == RETRYING and run.retry_at is not None:
            wait = format_wait(run.retry_at - run.ended)
            self._plain(
                Text.assemble(
                    ("↻ ", "yellow"),
                    (run.name, "bold"),
                    f" failed after {took}, retrying in {wait} (attempt {run.attempt}): {error}",
                )
            )
        else:
            self._plain(Text.assemble(("✗ ", "red"), (run.name, "bold"), f" failed after {took}: {error}"))
        self.refresh()

    def write(self, chunk: LogChunk) -> None:
        """The log sink: print each output line prefixed with its step name."""
        if not self._mine(chunk.workflow_id):
            return
        name = chunk.step_name or f"step {chunk.step_id}"
        if self.show_all:
            name = f"{chunk.workflow_id[:8]}/{name}"
        style = "red" if chunk.stream == "stderr" else "cyan"
        text = chunk.text.rstrip("\n")
        # Output commands (``##wfe[output k=v]``) are for the engine: keep them visible but quiet.
        line = Text.assemble((f"[{name}] ", style), (text, "dim") if text.startswith("##wfe[") else text)
        self._print(line)

    def update(self, instance: WorkflowInstance) -> None:
        """The stored state of the run (its pointers make the tree)."""
        self._instance = instance
        self.refresh()

    # -- output ------------------------------------------------------------------------------------------

    def _print(self, line: Text) -> None:
        if self._live is not None:
            self._live.console.print(line, soft_wrap=True)
        else:
            self.console.print(line, soft_wrap=True, highlight=False)

    def _plain(self, line: Text) -> None:
        if not self._interactive:
            self._print(line)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)

    def __enter__(self) -> ProgressView:
        if self._interactive:
            self._live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def summary(self) -> None:
        """Print the final tree (the live view already shows it on a terminal)."""
        if not self._interactive:
            self.console.print(self.render(), highlight=False)

    def render(self) -> RenderableType:
        """The step tree as a table: step, status, duration."""
        instance = self._instance
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        table.add_column("step", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        if instance is None:
            return Text("starting…", style="dim")
        depth = pointer_depths(instance)
        for pointer in instance.execution_pointers:
            if pointer.step_name is None and not pointer.children and pointer.id not in self._runs:
                continue
            level = depth[pointer.id]
            state, took = self._state(pointer)
            icon, style = _STYLE.get(state, ("?", "white"))
            name = pointer.step_name or f"step {pointer.step_id}"
            table.add_row(
                Text.assemble("  " * level, (f"{icon} ", style), name),
                Text(self._status_text(pointer, state), style=style),
                Text(took, style="dim"),
            )
        reached = {pointer.step_id for pointer in instance.execution_pointers}
        if instance.status.value == "Runnable":
            for step in self._plan:
                if step.step_id not in reached:
                    icon, style = _STYLE[PointerStatus.PENDING.value]
                    table.add_row(
                        Text.assemble("  " * step.depth, (f"{icon} ", style), (step.name, "dim")),
                        Text("pending", style=style),
                        Text(""),
                    )
        title = Text.assemble(
            (instance.name or instance.id, "bold"),
            f"  {instance.workflow_definition_id}  ",
            instance.status.value,
        )
        return Group(title, table)

    def _status_text(self, pointer: ExecutionPointer, state: str) -> str:
        run = self._runs.get(pointer.id)
        if state == RETRYING and run is not None and run.retry_at is not None:
            wait = format_wait(max(0.0, run.retry_at - self._clock()))
            return f"retrying in {wait} (attempt {run.attempt}): {run.error}"
        return state if state != PointerStatus.PENDING.value else "pending"

    def _state(self, pointer: ExecutionPointer) -> tuple[str, str]:
        run = self._runs.get(pointer.id)
        stored_final = pointer.status not in (PointerStatus.PENDING, PointerStatus.RUNNING)
        if run is not None:
            if run.ended is None or (run.container and not stored_final):
                # A container's own body ends at once; it runs for as long as its children do.
                return RUNNING, format_duration(self._clock() - run.started)
            took = format_duration(run.ended - run.started)
            if run.state == RETRYING and pointer.status in (PointerStatus.SLEEPING, PointerStatus.RUNNING):
                return RETRYING, took
            # Ended here but not persisted yet: show what the body did.
            return (pointer.status.value if stored_final else run.state), took
        stored = _stored_duration(pointer)
        return pointer.status.value, format_duration(stored) if stored is not None else ""


@dataclass(frozen=True, slots=True)
class PlannedStep:
    step_id: int
    name: str
    depth: int


def planned_steps(definition: WorkflowDefinition) -> list[PlannedStep]:
    """The named steps on the default path: each step's unconditional next step, and inside containers their
    children's paths. Branches that depend on outcomes are left out (they show once reached)."""
    planned: list[PlannedStep] = []
    seen: set[int] = set()
    by_id = {step.id: step for step in definition.steps}

    def walk(step_id: int | None, depth: int) -> None:
        while step_id is not None and step_id not in seen and step_id in by_id:
            seen.add(step_id)
            step = by_id[step_id]
            if step.name is not None:
                planned.append(PlannedStep(step.id, step.name, depth))
            for child in step.children:
                walk(child, depth + 1)
            unconditional = [o for o in step.outcomes if o.value is NO_VALUE and o.next_step is not None]
            step_id = unconditional[0].next_step if len(step.outcomes) == 1 and unconditional else None

    walk(0, 0)
    return planned


def pointer_depths(instance: WorkflowInstance) -> dict[str, int]:
    """How deep each pointer sits in the step tree (0 for top-level steps, 1 inside a container, ...)."""
    depth: dict[str, int] = {}
    for pointer in instance.execution_pointers:
        depth[pointer.id] = 1 + max((depth.get(scope, 0) for scope in pointer.scope), default=-1)
    return depth


def timestamp(value: datetime | None) -> str:
    """A stored time for tables: local time to the second, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
