"""Step types from the ``wfe.steps`` entry points: what is shipped, what is missing, what cannot import."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint, distribution
from pathlib import Path
from typing import Any

import pytest

from wfe_core.errors import MissingExtraError
from wfe_core.step import StepBody
from wfe_yaml import StepTypeUnavailableError, UnknownStepTypeError, load_workflow_from_str, step_types

SHELL_STEP = """\
workflow:
  id: sh
  version: 1
  steps:
    - name: hello
      type: shell
      config: {run: "echo hi"}
"""

JS_STEP = """\
workflow:
  id: js
  version: 1
  steps:
    - name: script
      type: deno
      config: {script: "output('a', 1)"}
"""


def test_shipped_types_are_registered() -> None:
    assert {"shell", "deno", "js", "workflow"} <= set(step_types.available_step_types())
    assert step_types.load_step_type("shell").name == "shell"


def test_the_built_in_types_are_the_packages_entry_points() -> None:
    shipped = distribution("wfe-yaml").entry_points.select(group=step_types.ENTRY_POINT_GROUP)
    assert step_types.BUILT_IN == {entry.name: entry.value for entry in shipped}


def test_built_in_types_load_without_scanning_the_installed_entry_points() -> None:
    step_types._entry_points.cache_clear()
    step_types._load_entry_point.cache_clear()
    [compiled] = load_workflow_from_str(SHELL_STEP)
    assert compiled.step_types == frozenset({"shell"})
    assert step_types._entry_points.cache_info().misses == 0  # never scanned
    assert type(step_types.load_step_type("deno")) is type(step_types.load_step_type("js"))
    assert step_types._entry_points.cache_info().misses == 0


def test_unknown_type_lists_the_available_ones() -> None:
    with pytest.raises(UnknownStepTypeError) as caught:
        load_workflow_from_str(JS_STEP.replace("type: deno", "type: cargo-build"), source="c.yaml")
    message = str(caught.value)
    assert message.startswith("c.yaml:6:13: Unknown step type: 'cargo-build' (step 'script')")
    assert "Available types: " in message and "shell" in message and "workflow" in message
    assert "A plugin can provide it" in message and "'wfe.steps'" in message


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A folder on ``sys.path`` for provider modules that ``_override`` entry points refer to."""
    monkeypatch.syspath_prepend(str(tmp_path))
    step_types._load_entry_point.cache_clear()
    yield tmp_path
    step_types._load_entry_point.cache_clear()
    for name in [m for m in sys.modules if m.startswith("wfe_fake_")]:
        del sys.modules[name]


def _override(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Make step type ``name`` load from ``value``: a built-in type's entry point, or an installed one."""
    if name in step_types.BUILT_IN:
        monkeypatch.setitem(step_types.BUILT_IN, name, value)
        return
    current = step_types._entry_points()
    entry = EntryPoint(name=name, value=value, group=step_types.ENTRY_POINT_GROUP)
    monkeypatch.setattr(step_types, "_entry_points", lambda: {**current, name: entry})


def test_js_provider_without_mini_racer_names_the_extra(
    fake_entry_points: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_entry_points.joinpath("wfe_fake_js.py").write_text(
        "import py_mini_racer_is_not_installed_here\n\nclass JsStepType: ...\n"
    )
    _override(monkeypatch, "deno", "wfe_fake_js:JsStepType")
    with pytest.raises(StepTypeUnavailableError) as caught:
        load_workflow_from_str(JS_STEP, source="js.yaml")
    assert caught.value.install == "wfe-yaml[js]"
    assert isinstance(caught.value, MissingExtraError) and caught.value.extra == "js"
    assert caught.value.install_command == 'pip install "wfe-yaml[js]"'
    assert 'pip install "wfe-yaml[js]"' in str(caught.value)
    assert str(caught.value).startswith("js.yaml:6:13: step type 'deno' is unavailable")


def test_a_broken_plugin_is_reported_without_an_install_hint(
    fake_entry_points: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_entry_points.joinpath("wfe_fake_broken.py").write_text("raise RuntimeError('plugin bug')\n")
    _override(monkeypatch, "terraform", "wfe_fake_broken:TerraformStepType")
    with pytest.raises(StepTypeUnavailableError, match="plugin bug") as caught:
        load_workflow_from_str(JS_STEP.replace("type: deno", "type: terraform"))
    assert caught.value.install is None
    assert not isinstance(caught.value, MissingExtraError)  # a bug of the plugin, not a missing package


def test_a_plugin_type_is_found_in_the_installed_entry_points(
    fake_entry_points: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_entry_points.joinpath("wfe_fake_terraform.py").write_text(
        "from wfe_core.step import StepBody\n\n"
        "class TerraformStepType:\n"
        "    name = 'terraform'\n"
        "    def validate(self, config, *, step_name):\n"
        "        return [] if config.get('plan') else [f\"step '{step_name}' needs a plan\"]\n"
        "    def create(self, config, *, step_name, workflow_id):\n"
        "        return StepBody()\n"
    )
    _override(monkeypatch, "terraform", "wfe_fake_terraform:TerraformStepType")
    text = JS_STEP.replace("type: deno", "type: terraform").replace(
        "{script: \"output('a', 1)\"}", "{plan: p}"
    )
    [compiled] = load_workflow_from_str(text)
    assert compiled.step_types == frozenset({"terraform"})
    assert "terraform" in step_types.available_step_types()
    with pytest.raises(Exception, match="needs a plan"):
        load_workflow_from_str(text.replace("{plan: p}", "{plan: ''}"))


class PermissiveStepType:
    name = "anything"

    def __init__(self) -> None:
        self.seen: list[Mapping[str, Any]] = []

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        self.seen.append(config)
        return [] if config.get("ok") else [f"step '{step_name}' needs ok: true"]

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        return StepBody()


def test_registered_step_types_validate_their_config() -> None:
    provider = PermissiveStepType()
    step_types.register_step_type("anything", provider)
    try:
        text = JS_STEP.replace("type: deno", "type: anything").replace(
            "{script: \"output('a', 1)\"}", "{ok: true}"
        )
        [compiled] = load_workflow_from_str(text)
        assert compiled.step_types == frozenset({"anything"})
        assert provider.seen == [{"ok": True}]
        with pytest.raises(Exception, match="needs ok: true") as caught:
            load_workflow_from_str(text.replace("ok: true", "ok: false"), source="p.yaml")
        assert str(caught.value).startswith("p.yaml:7:15:")
    finally:
        step_types.unregister_step_type("anything")
    assert "anything" not in step_types.available_step_types()


def test_registering_a_non_step_type_is_refused() -> None:
    with pytest.raises(TypeError, match="StepType protocol"):
        step_types.register_step_type("bad", object())  # type: ignore[arg-type]
