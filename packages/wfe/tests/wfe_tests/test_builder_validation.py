"""build() validates the definition."""

from __future__ import annotations

import pytest

from wfe import DefinitionError, StepBody, WorkflowBuilder


def test_empty_workflow_is_rejected():
    with pytest.raises(DefinitionError, match="no steps"):
        WorkflowBuilder().build("empty", 1)


def test_dangling_attach_is_rejected():
    with pytest.raises(DefinitionError, match="unknown step id 'nowhere'"):
        WorkflowBuilder().start_with(StepBody).attach("nowhere").build("dangling", 1)


def test_empty_branch_is_rejected():
    with pytest.raises(DefinitionError, match="branch adds no step"):
        WorkflowBuilder().start_with(StepBody).if_do(lambda d: True, lambda b: None).build("empty-branch", 1)


def test_duplicate_external_ids_are_rejected():
    with pytest.raises(DefinitionError, match="duplicate step id"):
        WorkflowBuilder().start_with(StepBody).id("a").then(StepBody).id("a").build("dup", 1)


def test_non_step_classes_are_rejected():
    with pytest.raises(TypeError, match="not a StepBody"):
        WorkflowBuilder().start_with(int)  # type: ignore[arg-type]


def test_parallel_without_branches_is_rejected():
    with pytest.raises(DefinitionError, match="at least one"):
        WorkflowBuilder().start_with(StepBody).parallel().join()


def test_built_definition_exposes_id_and_version():
    definition = WorkflowBuilder().start_with(StepBody).name("first").build("exposed", 3)
    assert (definition.id, definition.version) == ("exposed", 3)
    assert definition.steps[0].name == "first"
