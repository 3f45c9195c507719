"""The live progress view of a run: the step tree with status and durations, and step output as it is written.

On a terminal it is a rich ``Live`` table with output lines printed above it; otherwise (a pipe, CI logs) it
prints one plain line per step start, step end and output line, each step's lines folded in GitHub Actions and
GitLab CI. It is fed by three sources:

- a step middleware (:meth:`ProgressView.middleware`): the exact moment a step body starts and ends in this
  process (the store only learns about a step when its pass is persisted);
- the host's log sink (:meth:`ProgressView.write`): each output line;
- the stored instance (:meth:`ProgressView.update`): the tree, and the state of steps this process did not run
  (those completed before a resume, containers, skipped and waiting steps).

Steps are shown as the pipeline names them (see :mod:`wfe.cli.tree`): the YAML compiler's own steps never
appear, and a step's hooks are its children.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wfe.cli.ci import Folder
from wfe.cli.formatting import format_duration, format_wait, timestamp
from wfe.cli.plan import PlannedStep, planned_steps
from wfe.cli.tree import CANCELLED, CONTINUED, StepNode, flat, role_of
from wfe_core.definition import WorkflowDefinition
from wfe_core.executor import StepMiddleware
from wfe_core.executor.executor import StepCall, StepResult
from wfe_core.models import ErrorKind, ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus
from wfe_core.step import LogChunk, StepBody, StepExecutionContext

__all__ = [
    "PlannedStep",
    "ProgressView",
    "format_duration",
    "format_wait",
    "planned_steps",
    "timestamp",
]

RUNNING = "running"
FAILED = "failed"
DONE = "done"
RETRYING = "retrying"
SKIPPED = PointerStatus.SKIPPED.value

_STYLE = {
    RUNNING: ("⟳", "yellow"),
    RETRYING: ("↻", "yellow"),
    DONE: ("✓", "green"),
    FAILED: ("✗", "red"),
    CONTINUED: ("✗", "yellow"),
    CANCELLED: ("-", "dim"),
    PointerStatus.COMPLETE.value: ("✓", "green"),
    PointerStatus.PENDING.value: ("·", "dim"),
    PointerStatus.PENDING_PREDECESSOR.value: ("·", "dim"),
    PointerStatus.RUNNING.value: ("⟳", "yellow"),
    PointerStatus.SKIPPED.value: ("-", "dim"),
    PointerStatus.SLEEPING.value: ("z", "cyan"),
    PointerStatus.WAITING_FOR_EVENT.value: ("…", "cyan"),
    PointerStatus.FAILED.value: ("✗", "red"),
    PointerStatus.COMPENSATED.value: ("✗", "red"),
    PointerStatus.CANCELLED.value: ("-", "dim"),
}
_LABEL = {
    PointerStatus.PENDING.value: "pending",
    PointerStatus.PENDING_PREDECESSOR.value: "pending",
    PointerStatus.SKIPPED.value: "skipped",
    PointerStatus.COMPENSATED.value: "Failed",
    CONTINUED: "failed, continued",
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
    this_attempt: str = ""
    """`` (attempt 2 of 4)`` for a step that retries: the attempt this run is."""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


def _skips(body: StepBody, ctx: StepExecutionContext) -> bool:
    """The step's ``when`` is false: it will be skipped (a YAML ``ConditionalStep`` says so)."""
    skips = getattr(body, "skips", None)
    return bool(callable(skips) and skips(ctx))


class ProgressView:
    """Shows one run (``workflow_id``), or with ``workflow_id=None`` the output of every run (``wfe serve``).

    ``verbose``: also print the engine's ``##wfe[...]`` lines. ``ci``: ``github`` or ``gitlab`` to fold each
    step's lines in that CI's log (plain output only).
    """

    def __init__(
        self,
        console: Console,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        verbose: bool = False,
        ci: str | None = None,
    ) -> None:
        self.console = console
        self.workflow_id: str | None = None
        self.show_all = False
        self.verbose = verbose
        self._interactive = console.is_terminal if live is None else live
        self._clock = clock
        self._runs: dict[str, _Live] = {}
        self._instance: WorkflowInstance | None = None
        self._live: Live | None = None
        self._plan: list[PlannedStep] = []
        self._folder = None if ci is None or self._interactive else Folder(ci, self._print, self._marker)
        self._held: list[Text | str] | None = None

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
            role = role_of(name)
            if role is not None:
                step, kind = role
                if kind == "hooks" and _skips(body, ctx):
                    self._plain(Text.assemble(("- ", "dim"), (step, "bold"), " skipped (its when is false)"))
                elif kind == "continue":
                    self._plain(
                        Text.assemble(
                            ("↷ ", "yellow"), (step, "bold"), " failed; the run goes on (continue_on_error)"
                        )
                    )
                return await next_()
            if _skips(body, ctx):
                self._plain(Text.assemble(("- ", "dim"), (name, "bold"), " skipped (its when is false)"))
                return await next_()
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
                    self._started(ctx, run)
            self.refresh()
            try:
                result = await next_()
            except Exception as exc:
                plan = retry_plan(ctx)
                if plan is not None:
                    run.retry_at, run.attempt = self._clock() + plan[0], plan[1]
                self._finish(ctx.pointer.id, run, RETRYING if plan is not None else FAILED, _first_line(exc))
                raise
            self._finish(ctx.pointer.id, run, DONE, None)
            return result

        return track

    def _started(self, ctx: StepExecutionContext, run: _Live) -> None:
        name, attempt = run.name, ""
        behavior = ctx.step.error_behavior
        if behavior is not None and behavior.kind is ErrorKind.RETRY:
            total = "" if behavior.max_retries is None else f" of {behavior.max_retries + 1}"
            run.this_attempt = f" (attempt {ctx.pointer.retry_count + 1}{total})"
            attempt = run.this_attempt if ctx.pointer.retry_count else ""
        line = Text.assemble(("▶ ", "yellow"), (name, "bold"), f" started{attempt}")
        if self._folder is not None:
            self._folder.start(ctx.pointer.id, f"{name}{attempt}")
            self._folder.line(ctx.pointer.id, line)
        else:
            self._plain(line)

    def _finish(self, key: str, run: _Live, state: str, error: str | None) -> None:
        run.ended = self._clock()
        run.state = state
        run.error = error
        took = format_duration(run.ended - run.started)
        line: Text | None = None
        if run.container:
            pass
        elif state == DONE:
            line = Text.assemble(("✓ ", "green"), (run.name, "bold"), f" done in {took}")
        elif state == RETRYING and run.retry_at is not None:
            wait = format_wait(run.retry_at - run.ended)
            line = Text.assemble(
                ("↻ ", "yellow"),
                (run.name, "bold"),
                f" failed after {took}, retrying in {wait} (attempt {run.attempt}): {error}",
            )
        else:
            line = Text.assemble(
                ("✗ ", "red"), (run.name, "bold"), f" failed after {took}{run.this_attempt}: {error}"
            )
        if line is not None and not self._interactive:
            if self._folder is not None:
                self._folder.finish(key, line)
            else:
                self._print(line)
        self.refresh()

    def write(self, chunk: LogChunk) -> None:
        """The log sink: print each output line prefixed with its step name (stderr marked)."""
        if not self._mine(chunk.workflow_id):
            return
        text = chunk.text.rstrip("\n")
        if text.startswith("##wfe[") and not self.verbose:
            return  # an output command, for the engine
        name = chunk.step_name or f"step {chunk.step_id}"
        if self.show_all:
            name = f"{chunk.workflow_id[:8]}/{name}"
        if chunk.stream == "stderr":
            line = Text.assemble((f"[{name}] ", "red"), ("stderr| ", "red"), text)
        else:
            line = Text.assemble((f"[{name}] ", "cyan"), (text, "dim") if text.startswith("##wfe[") else text)
        if self._folder is not None:
            self._folder.line(chunk.pointer_id, line)
        else:
            self._print(line)

    def update(self, instance: WorkflowInstance) -> None:
        """The stored state of the run (its pointers make the tree)."""
        self._instance = instance
        self.refresh()

    # -- output ------------------------------------------------------------------------------------------

    def hold(self) -> None:
        """Keep lines back until :meth:`release` (so the command's own first line comes first)."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        for line in held or []:
            if isinstance(line, Text):
                self._print(line)
            else:
                self._marker(line)

    def _print(self, line: Text) -> None:
        if self._held is not None:
            self._held.append(line)
        elif self._live is not None:
            self._live.console.print(line, soft_wrap=True)
        else:
            self.console.print(line, soft_wrap=True, highlight=False)

    def _marker(self, text: str) -> None:
        if self._held is not None:  # a fold marker (raw text) keeps its place among the held lines
            self._held.append(text)
            return
        self.console.file.write(text + "\n")
        self.console.file.flush()

    def _plain(self, line: Text) -> None:
        if not self._interactive:
            self._print(line)

    def message(self, text: str, style: str = "") -> None:
        """A line of the command's own (above the live tree on a terminal)."""
        self._print(Text(text, style=style))

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
        if self._folder is not None:
            self._folder.close()
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
        for node, depth in flat(instance):
            state, took = self._state(instance, node)
            icon, style = _STYLE.get(state, ("?", "white"))
            table.add_row(
                Text.assemble("  " * depth, (f"{icon} ", style), node.name),
                Text(self._status_text(node.pointer, state), style=style),
                Text(took, style="dim"),
            )
        reached = {pointer.step_id for pointer in instance.execution_pointers}
        if instance.status is WorkflowStatus.RUNNABLE:
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
        return _LABEL.get(state, state)

    def _state(self, instance: WorkflowInstance, node: StepNode) -> tuple[str, str]:
        pointer = node.pointer
        stored = node.status(instance)
        run = self._runs.get(pointer.id)
        if stored in (SKIPPED, CONTINUED, CANCELLED):
            took = "" if run is None or run.ended is None else format_duration(run.ended - run.started)
            return stored, took
        stored_final = pointer.status not in (PointerStatus.PENDING, PointerStatus.RUNNING)
        if run is not None:
            if run.ended is None or (run.container and not stored_final):
                # A container's own body ends at once; it runs for as long as its children do.
                return RUNNING, format_duration(self._clock() - run.started)
            took = format_duration(run.ended - run.started)
            if run.state == RETRYING and pointer.status in (PointerStatus.SLEEPING, PointerStatus.RUNNING):
                return RETRYING, took
            # Ended here but not persisted yet: show what the body did.
            return (stored if stored_final else run.state), took
        if pointer.start_time is not None and pointer.end_time is not None:
            return stored, format_duration(max(0.0, (pointer.end_time - pointer.start_time).total_seconds()))
        return stored, ""
