"""Every YAML file of the Rust WFE's test suite loads, or fails, the way that suite expected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from wfe_core.step import StepBody
from wfe_yaml import errors
from wfe_yaml.document import parse_yaml
from wfe_yaml.errors import StepTypeUnavailableError, UnknownStepTypeError, YamlError
from wfe_yaml.interpolation import interpolate
from wfe_yaml.loader import load_single_workflow_from_str, load_workflow_from_str, load_workflow_with_includes
from wfe_yaml.step_types import StepTypeImportError, load_step_type, register_step_type, unregister_step_type

from .rust_fixtures import (
    CONFIGS,
    DENO_EXPECTED_ERRORS,
    EXPECTED_ERRORS,
    WORKFLOWS_YAML,
    YAML_TESTS,
    fill_placeholders,
    fixture_names,
    fixture_text,
    require_fixtures,
    unshipped_type,
)

INCLUDE_PREFIX = "validation_include_"
SPECIAL = {"interpolation_interpolation_does_not_break_yaml_anchors.yaml"}
SINGLE = {"validation_load_single_workflow_from_multi_file_returns_error.yaml"}


def _js_available() -> bool:
    try:
        load_step_type("deno")
    except StepTypeImportError:
        return False
    return True


def _load(name: str) -> list[object]:
    text = fill_placeholders(fixture_text(name))
    if name in SINGLE:
        return [load_single_workflow_from_str(text, CONFIGS.get(name), source=name)]
    return list(load_workflow_from_str(text, CONFIGS.get(name), source=name))


PLAIN = [n for n in fixture_names() if not n.startswith(INCLUDE_PREFIX) and n not in SPECIAL] or ["<absent>"]


@pytest.mark.parametrize("name", PLAIN)
def test_fixture_loads_or_fails_as_the_rust_suite_expected(name: str) -> None:
    require_fixtures()
    unshipped = unshipped_type(name)
    is_deno = "deno" in name and unshipped is False
    if unshipped is not False:
        with pytest.raises(UnknownStepTypeError) as caught:
            _load(name)
        if unshipped is not None:
            assert caught.value.step_type == unshipped
        assert "Available types: " in str(caught.value) and "shell" in caught.value.available
        assert "A plugin can provide it" in str(caught.value)
        assert caught.value.path == name and caught.value.line is not None
    elif name in EXPECTED_ERRORS:
        kind, fragment = EXPECTED_ERRORS[name]
        with pytest.raises(YamlError) as caught:
            _load(name)
        assert type(caught.value) is getattr(errors, kind), str(caught.value)
        assert fragment in str(caught.value)
        assert str(caught.value).startswith(f"{name}:")
    elif is_deno and not _js_available():
        with pytest.raises(StepTypeUnavailableError) as caught:
            _load(name)
        assert caught.value.step_type == "deno"
    elif is_deno and name in DENO_EXPECTED_ERRORS:
        with pytest.raises(errors.YamlValidationError) as caught:
            _load(name)
        assert DENO_EXPECTED_ERRORS[name] in str(caught.value)
    else:
        loaded = _load(name)
        assert loaded, name


def test_every_fixture_has_a_test() -> None:
    require_fixtures()
    names = fixture_names()
    covered = set(PLAIN) | SPECIAL | {n for n in names if n.startswith(INCLUDE_PREFIX)}
    assert set(names) <= covered
    assert len(names) == 258


def test_interpolation_does_not_break_yaml_anchors() -> None:
    require_fixtures()
    name = "interpolation_interpolation_does_not_break_yaml_anchors.yaml"
    tree = interpolate(parse_yaml(fixture_text(name), source=name), {"version": 3}, source=name)
    assert tree["default"] == {"version": 3}
    assert tree["merged"] == {"version": 3}


def _include_set(tmp_path: Path, test: str) -> Path:
    """Write the parts of one include test under their referenced names; returns the main file."""
    for path in YAML_TESTS.glob(f"{INCLUDE_PREFIX}{test}__*.yaml"):
        part = path.stem.rsplit("__", 1)[1]
        (tmp_path / f"{part}.yaml").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    main = tmp_path / "main.yaml"
    return main if main.exists() else tmp_path / "a.yaml"


def test_include_single_file(tmp_path: Path) -> None:
    require_fixtures()
    loaded = load_workflow_with_includes(_include_set(tmp_path, "single_file"))
    assert [c.id for c in loaded] == ["main-wf", "child-wf"]


def test_include_multiple_files(tmp_path: Path) -> None:
    require_fixtures()
    loaded = load_workflow_with_includes(_include_set(tmp_path, "multiple_files"))
    assert sorted(c.id for c in loaded) == ["main-wf", "wf-a", "wf-b"]
    assert loaded[0].id == "main-wf"


def test_include_with_override_main_takes_precedence(tmp_path: Path) -> None:
    require_fixtures()
    loaded = load_workflow_with_includes(_include_set(tmp_path, "with_override_main_takes_precedence"))
    assert len(loaded) == 1
    assert loaded[0].spec.steps[0].name == "main-step"
    assert loaded[0].source.endswith("main.yaml")


def test_include_missing_file_returns_error(tmp_path: Path) -> None:
    require_fixtures()
    with pytest.raises(errors.YamlIOError, match="Include file not found") as caught:
        load_workflow_with_includes(_include_set(tmp_path, "missing_file_returns_error"))
    assert caught.value.line == 3 and caught.value.path.endswith("main.yaml")


def test_include_cycle_detection(tmp_path: Path) -> None:
    require_fixtures()
    with pytest.raises(errors.YamlValidationError, match="Circular include detected"):
        load_workflow_with_includes(_include_set(tmp_path, "cycle_detection"))


def test_rust_workflows_yaml_fails_only_on_its_unshipped_step_types() -> None:
    if not WORKFLOWS_YAML.is_file():
        pytest.skip(f"{WORKFLOWS_YAML} is absent (the Rust WFE fixtures live beside the repository)")
    text = WORKFLOWS_YAML.read_text(encoding="utf-8")
    with pytest.raises(UnknownStepTypeError) as caught:
        load_workflow_from_str(text, source="workflows.yaml")
    assert caught.value.step_type == "kubernetes"
    assert "A plugin can provide it" in str(caught.value)
    assert str(caught.value).startswith("workflows.yaml:")
    # Once a plugin provides the unshipped types, the rest of the file (merge keys, services, typed
    # inputs/outputs, conditions, sub-workflows, retry behaviours) loads.
    for step_type in ("kubernetes", "buildkit"):
        register_step_type(step_type, AcceptingStepType(step_type))
    try:
        if not _js_available():
            with pytest.raises(StepTypeUnavailableError):
                load_workflow_from_str(text, source="workflows.yaml")
            return
        loaded = load_workflow_from_str(text, source="workflows.yaml")
    finally:
        for step_type in ("kubernetes", "buildkit"):
            unregister_step_type(step_type)
    assert [c.id for c in loaded][:2] == ["checkout", "lint"]
    assert len(loaded) == 12


class AcceptingStepType:
    """A stand-in plugin that accepts any config (its steps are never run here)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        return []

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        return StepBody()
