"""The steps a run has not reached yet, as the live view lists them (pending)."""

from __future__ import annotations

from dataclasses import dataclass

from wfe.cli.tree import role_of
from wfe_core.definition import NO_VALUE, WorkflowDefinition


@dataclass(frozen=True, slots=True)
class PlannedStep:
    step_id: int
    name: str
    depth: int


def planned_steps(definition: WorkflowDefinition) -> list[PlannedStep]:
    """The named steps on the default path: each step's unconditional next step, and inside containers their
    children's paths, with a step's hooks under it as the tree shows them. Branches that depend on outcomes,
    and failure paths, are left out (they show once reached)."""
    planned: list[PlannedStep] = []
    seen: set[int] = set()
    by_id = {step.id: step for step in definition.steps}

    def walk(step_id: int | None, depth: int, row: str | None) -> None:
        while step_id is not None and step_id not in seen and step_id in by_id:
            seen.add(step_id)
            step = by_id[step_id]
            role = role_of(step.name)
            if role is not None and role[1] == "hooks":
                planned.append(PlannedStep(step.id, role[0], depth))
                for child in step.children:
                    walk(child, depth + 1, role[0])
            elif role is not None:
                for child in step.children:
                    walk(child, depth, row)  # the step's body: what it holds is the step and its hooks
            elif step.name is not None and step.name == row:
                for child in step.children:
                    walk(child, depth, None)  # the step itself, its row already planned
            else:
                if step.name is not None:
                    planned.append(PlannedStep(step.id, step.name, depth))
                for child in step.children:
                    walk(child, depth + 1, None)
            unconditional = [o for o in step.outcomes if o.value is NO_VALUE and o.next_step is not None]
            step_id = unconditional[0].next_step if len(step.outcomes) == 1 and unconditional else None

    walk(0, 0, None)
    return planned
