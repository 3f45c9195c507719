"""Forking an instance from a step of its main sequence: which pointers the fork keeps and where it goes on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from wfe._registry import WorkflowRegistry
from wfe_core.definition import WorkflowDefinition, WorkflowStep
from wfe_core.errors import HostError
from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance
from wfe_core.models.trusted import trusted
from wfe_core.protocols import Clock, PersistenceProvider

_KEPT_ENDINGS = (PointerStatus.COMPLETE, PointerStatus.SKIPPED, PointerStatus.COMPENSATED)


def _label(step: WorkflowStep) -> str:
    return f"'{step.name}'" if step.name else f"#{step.id}"


def container_of(definition: WorkflowDefinition) -> dict[int, int]:
    """The step every step that belongs to another one runs inside, by step id: the branches of a container
    (the entry of each and the steps its outcomes lead to) and a step's compensation steps. Steps of the main
    sequence are not in the map."""
    parent: dict[int, int] = {}
    for container in definition.steps:
        entries = list(container.children)
        if container.compensation_step_id is not None:
            entries.append(container.compensation_step_id)
        for entry in entries:
            todo = [entry]
            while todo:
                step_id = todo.pop()
                if step_id in parent or step_id == container.id:
                    continue
                parent[step_id] = container.id
                step = definition.find_step(step_id)
                if step is not None:
                    todo.extend(o.next_step for o in step.outcomes if o.next_step is not None)
    return parent


def resolve_step(definition: WorkflowDefinition, from_step: str | int) -> WorkflowStep:
    """The step of the main sequence ``from_step`` names (a step id, a step name or an external id).
    A step inside a container is refused with its top-level ancestor named."""
    step: WorkflowStep | None = None
    if isinstance(from_step, int) and not isinstance(from_step, bool):
        step = definition.find_step(from_step)
    elif isinstance(from_step, str):
        step = next((s for s in definition.steps if s.name == from_step), None)
        if step is None:
            step = definition.step_by_external_id(from_step)
        if step is None and from_step.isdigit():
            step = definition.find_step(int(from_step))
    else:
        raise TypeError(f"from_step must be a step name or id, not {type(from_step).__name__}")
    if step is None:
        names = ", ".join(_label(s) for s in definition.steps if s.id not in container_of(definition))
        raise HostError(
            f"definition {definition.id} v{definition.version} has no step {from_step!r}: "
            f"fork from one of its main sequence ({names})"
        )
    parents = container_of(definition)
    if step.id in parents:
        ancestor = step.id
        while ancestor in parents:
            ancestor = parents[ancestor]
        top = definition.step(ancestor)
        raise HostError(
            f"step {_label(step)} runs inside container {_label(top)}: fork from {_label(top)}, "
            "the step of the main sequence that holds it"
        )
    return step


def forked_pointers(original: WorkflowInstance, step: WorkflowStep, now: datetime) -> list[ExecutionPointer]:
    """The pointers of a fork of ``original`` that continues at ``step``: copies of every pointer created
    before the original first reached ``step`` (ended: a pointer that had not ended is marked Complete), then a
    new pointer of ``step``. Refused when the original never reached ``step``."""
    pointers = original.execution_pointers
    at = next((i for i, p in enumerate(pointers) if p.step_id == step.id and not p.scope), None)
    if at is None:
        raise HostError(
            f"instance {original.name or original.id} never reached step {_label(step)}: fork from a step "
            "it has reached (see its execution pointers)"
        )
    kept: list[ExecutionPointer] = []
    for pointer in pointers[:at]:
        copy = pointer.model_copy(deep=True)
        copy.active = False
        if copy.status not in _KEPT_ENDINGS:
            copy.status = PointerStatus.COMPLETE
        copy.end_time = copy.end_time or now
        copy.sleep_until = None
        kept.append(copy)
    kept_ids = {p.id for p in kept}
    first = pointers[at]
    kept.append(
        trusted(
            ExecutionPointer,
            step_id=step.id,
            step_name=step.name,
            predecessor_id=first.predecessor_id if first.predecessor_id in kept_ids else None,
        )
    )
    return kept


class ForkVerbs:
    """The host's fork verb (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    registry: WorkflowRegistry
    clock: Clock

    if TYPE_CHECKING:  # WorkflowHost's

        async def _create(
            self,
            definition_id: str,
            version: int | None,
            data: Any,
            *,
            reference: str | None = None,
            pointers: list[ExecutionPointer] | None = None,
            forked_from: str | None = None,
            queue: str | None = None,
            priority: int = 0,
        ) -> str: ...

    async def fork_workflow(
        self,
        workflow_id: str,
        from_step: str | int,
        *,
        data: Any = None,
        reference: str | None = None,
    ) -> str:
        """Start a new instance of the same definition version as instance ``workflow_id`` (id or name) that
        keeps the original's pointers before ``from_step`` (a step of the main sequence, by name or id) as
        ended, has the original's data (or ``data``) and goes on at ``from_step``; return its id. The new
        instance records ``forked_from`` and has the original's reference (or ``reference``). The original
        is left as it is. Refused (HostError) for a step inside a container (the error names the top-level
        step that holds it) and for a step the original never reached."""
        original = await self.persistence.get_workflow(workflow_id)
        definition = self.registry.get(original.workflow_definition_id, original.version)
        step = resolve_step(definition, from_step)
        pointers = forked_pointers(original, step, self.clock.now())
        return await self._create(
            definition.id,
            definition.version,
            original.data if data is None else data,
            reference=original.reference if reference is None else reference,
            queue=original.queue,
            priority=original.priority,
            pointers=pointers,
            forked_from=original.id,
        )


__all__ = ["ForkVerbs", "container_of", "forked_pointers", "resolve_step"]
