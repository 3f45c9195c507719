"""A run's steps as the pipeline names them: the tree the views, ``wfe show`` and ``wfe show --json`` print.

The YAML compiler adds steps of its own around a step with hooks (``<step>:hooks``, ``<step>:body``,
``<step>:failure``, ``<step>:fail``, ``<step>:continue``; see ``wfe_yaml.compiler.INTERNAL_ROLES``). Here they
fold back into one row named after the step, with its hooks (``on_success``, ``on_failure``, ``ensure``) as its
children; the errors of the run are attributed to the step and the attempt they came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from wfe_core.models import ExecutionError, ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus

ROLES = frozenset({"hooks", "body", "failure", "fail", "continue"})
CONTINUED = "Failed, continued"
CANCELLED = "Cancelled"
_OPEN = (
    PointerStatus.PENDING,
    PointerStatus.RUNNING,
    PointerStatus.SLEEPING,
    PointerStatus.WAITING_FOR_EVENT,
    PointerStatus.PENDING_PREDECESSOR,
)
_TAIL_LINES = 10
_NEVER = datetime.max.replace(tzinfo=UTC)


def role_of(name: str | None) -> tuple[str, str] | None:
    """``("build", "hooks")`` for a step the compiler added around ``build``; None for the pipeline's own."""
    if not name or ":" not in name:
        return None
    step, role = name.rsplit(":", 1)
    return (step, role) if role in ROLES else None


@dataclass(slots=True)
class StepNode:
    """One row: a step of the pipeline (a hook is a step too), with the pointer that shows its state."""

    name: str
    pointer: ExecutionPointer
    """The step's own pointer (for a step with hooks, its group's until the step itself starts)."""
    group: ExecutionPointer | None = None
    """The ``<step>:hooks`` group of a step with hooks."""
    children: list[StepNode] = field(default_factory=list)
    continued: bool = False
    """It failed, and the run went on (``continue_on_error``)."""
    pointers: list[str] = field(default_factory=list)
    """The pointers shown as this row (the step's own, and its group's)."""

    def status(self, instance: WorkflowInstance) -> str:
        if self.group is not None and self.group.status is PointerStatus.SKIPPED:
            return PointerStatus.SKIPPED.value
        if self.continued:
            return CONTINUED
        status = self.pointer.status
        if instance.status is WorkflowStatus.TERMINATED and status in _OPEN:
            return CANCELLED
        return status.value

    def walk(self, depth: int = 0) -> Iterator[tuple[StepNode, int]]:
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)


def step_tree(instance: WorkflowInstance) -> list[StepNode]:
    """The top-level steps of the run, in the order they were reached, each with its children."""
    roots: list[StepNode] = []
    home: dict[str, StepNode | None] = {}
    """Pointer id -> the row its children hang under (None: the top level)."""
    by_id = {pointer.id: pointer for pointer in instance.execution_pointers}

    def add(node: StepNode, parent: StepNode | None) -> None:
        (parent.children if parent is not None else roots).append(node)

    for pointer in instance.execution_pointers:
        parent_id = pointer.scope[0] if pointer.scope else None
        parent = home.get(parent_id) if parent_id is not None else None
        role = role_of(pointer.step_name)
        if role is not None:
            step, kind = role
            if kind == "hooks":
                node = StepNode(step, pointer, group=pointer, pointers=[pointer.id])
                add(node, parent)
                home[pointer.id] = node
            elif kind in ("body", "failure"):
                home[pointer.id] = parent  # transparent: what runs in them is the step, or its hooks
            elif kind == "continue" and parent is not None and pointer.start_time is not None:
                parent.continued = True
            continue
        enclosing = by_id.get(parent_id) if parent_id is not None else None
        enclosing_role = role_of(enclosing.step_name if enclosing is not None else None)
        if (
            parent is not None
            and enclosing_role == (pointer.step_name, "body")
            and parent.pointer is parent.group
        ):
            parent.pointer = pointer  # the step itself, inside its group
            parent.pointers.append(pointer.id)
            home[pointer.id] = parent
            continue
        if pointer.step_name is None and not pointer.children:
            continue  # an unnamed inline step of the engine
        if pointer.status is PointerStatus.PENDING_PREDECESSOR and pointer.start_time is None:
            continue  # waits behind a failure path: shown once it runs
        node = StepNode(pointer.step_name or f"step {pointer.step_id}", pointer, pointers=[pointer.id])
        add(node, parent)
        home[pointer.id] = node
    for root in roots:
        for node, _ in root.walk():
            # In the order they ran (an ensure waiting behind on_failure was created before it).
            node.children.sort(key=_started)
    return roots


def _started(node: StepNode) -> tuple[bool, datetime]:
    start = node.pointer.start_time
    return (start is None, start or _NEVER)


def flat(instance: WorkflowInstance) -> list[tuple[StepNode, int]]:
    """Every row with its depth, parents before children."""
    return [pair for root in step_tree(instance) for pair in root.walk()]


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


@dataclass(frozen=True, slots=True)
class StepError:
    """An error of the run, by step and attempt."""

    step: str
    attempt: int
    time: datetime
    message: str
    retried: bool
    """A later attempt of the step succeeded: not one of the run's errors."""
    step_id: int | None = None
    exception_type: str | None = None
    traceback: str | None = None
    """The formatted traceback the engine recorded (None for errors stored before it did)."""

    @property
    def headline(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else "error"

    def stream(self, name: str) -> str:
        """The tail of the step's ``stdout`` or ``stderr`` the error carries (a shell step's), or ``""``."""
        text = self.message
        if name == "stderr":
            return text.split("\nstderr: ", 1)[1] if "\nstderr: " in text else ""
        return text.split("\nstdout: ", 1)[1].split("\nstderr: ", 1)[0] if "\nstdout: " in text else ""

    def tail(self, lines: int = _TAIL_LINES) -> list[str]:
        """The last lines of the step's stderr (else of its stdout) the error carries."""
        stderr = self.stream("stderr")
        chosen = stderr if stderr.strip() else self.stream("stdout")
        return [line for line in chosen.rstrip().splitlines() if line.strip()][-lines:]

    def describe(self, total_attempts: int | None = None) -> str:
        of = f" of {total_attempts}" if total_attempts else ""
        return f"step '{self.step}' (attempt {self.attempt}{of}): {self.headline}"


def step_errors(instance: WorkflowInstance, errors: Sequence[ExecutionError]) -> list[StepError]:
    """The run's errors with their step and attempt; the engine's own ``<step>:fail`` errors are left out."""
    owner: dict[str, StepNode] = {}
    for node, _ in flat(instance):
        for pointer_id in node.pointers:
            owner[pointer_id] = node
    by_id = {pointer.id: pointer for pointer in instance.execution_pointers}
    attempts: dict[str, int] = {}
    found: list[StepError] = []
    for error in errors:
        pointer = by_id.get(error.execution_pointer_id or "")
        if pointer is None:
            found.append(
                StepError(
                    error.step_name or "(run)",
                    1,
                    error.error_time,
                    error.message,
                    False,
                    error.step_id,
                    error.exception_type,
                    error.traceback,
                )
            )
            continue
        if role_of(pointer.step_name) is not None:
            continue
        attempts[pointer.id] = attempts.get(pointer.id, 0) + 1
        row = owner.get(pointer.id)
        name = row.name if row is not None else pointer.step_name or f"step {pointer.step_id}"
        retried = pointer.status is PointerStatus.COMPLETE
        found.append(
            StepError(
                name,
                attempts[pointer.id],
                error.error_time,
                error.message,
                retried,
                pointer.step_id,
                error.exception_type,
                error.traceback,
            )
        )
    return found


def outputs(data: object) -> dict[str, object]:
    """The run's outputs: its data without the steps' captured ``<step>.stdout`` / ``<step>.stderr``."""
    if not isinstance(data, dict):
        return {}
    return {
        key: value
        for key, value in data.items()
        if not (isinstance(key, str) and key.endswith((".stdout", ".stderr")))
    }
