"""Keys: typos are errors that name the intended key (under ``config.`` when it belongs there), messages use the
file's own names, and keys of the Rust WFE's schema that wfe does not implement load with a warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wfe_yaml import (
    YamlValidationError,
    YamlWarning,
    load_workflow_from_str,
    load_workflow_with_includes,
    register_step_type,
    unregister_step_type,
)

from .rust_fixtures import WORKFLOWS_YAML
from .test_rust_fixtures import AcceptingStepType, _js_available

BASE = """\
workflow:
  id: ci
  version: 1
  steps:
    - name: build
      type: shell
      config:
        run: make
"""


def error_of(text: str) -> str:
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(text, source="ci.yaml")
    return str(caught.value)


def test_a_typo_in_a_config_key_names_the_key_meant() -> None:
    assert error_of(BASE.replace("        run: make", "        comand: make")) == (
        "ci.yaml:8:9: step 'build': unknown field 'config.comand' (did you mean 'config.run'?)"
    )
    assert error_of(BASE + "        working_dri: src\n") == (
        "ci.yaml:9:9: step 'build': unknown field 'config.working_dri' (did you mean 'config.working_dir'?)"
    )


def test_a_key_unknown_to_both_schemas_is_an_error() -> None:
    assert (
        error_of(BASE + "        frobnicate: 1\n")
        == "ci.yaml:9:9: step 'build': unknown field 'config.frobnicate'"
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BASE.replace("      type: shell\n      config:\n        run: make", "      run: make"), "6:7"),
        (BASE.replace("      config:\n        run: make", "      run: make"), "7:7"),
        (BASE + "      shell: bash\n", "9:7"),
    ],
)
def test_an_executor_key_at_step_level_points_at_config(text: str, where: str) -> None:
    message = error_of(text)
    assert message.startswith(f"ci.yaml:{where}: step 'build': unknown field '"), message
    assert re.search(
        r"\(did you mean 'config\.(run|shell)'\? it belongs under the step's 'config:'\)", message
    )


def test_a_misspelt_workflow_key_is_reported_instead_of_the_missing_one() -> None:
    assert error_of(BASE.replace("  steps:", "  stesp:")) == (
        "ci.yaml:4:3: workflow 'ci': unknown field 'stesp' (did you mean 'steps'?)"
    )


def test_nested_typos_name_the_full_key() -> None:
    text = BASE + "      error_behavior:\n        type: retry\n        intervl: 5s\n"
    assert error_of(text) == (
        "ci.yaml:11:9: step 'build': unknown field 'error_behavior.intervl' "
        "(did you mean 'error_behavior.interval'?)"
    )
    assert error_of(BASE + "      outputs:\n        - {nme: x}\n") == (
        "ci.yaml:10:12: step 'build': unknown field 'outputs[0].nme' (did you mean 'outputs[0].name'?)"
    )


def test_messages_use_the_files_names_not_pydantic_paths() -> None:
    text = BASE + "      error_behavior:\n        type: retry\n        interval: soon\n"
    assert error_of(text) == (
        "ci.yaml:11:19: step 'build': error_behavior.interval: invalid duration 'soon': use e.g. 500ms, 30s, "
        "5m, 1h or a number of milliseconds"
    )
    assert error_of(BASE + "        timeout: forever\n").startswith(
        "ci.yaml:9:18: step 'build': config.timeout: invalid duration 'forever'"
    )
    assert error_of(BASE + "        timeout: {a: 1}\n") == (
        "ci.yaml:9:18: step 'build': config.timeout: Input should be a valid string, a valid integer or a "
        "valid number"
    )
    assert (
        error_of(BASE.replace("  version: 1\n", ""))
        == "ci.yaml:2:3: workflow 'ci': missing required field 'version'"
    )
    for message in (error_of(text), error_of(BASE.replace("version: 1", "version: x"))):
        assert "Value error" not in message and "steps.0" not in message


RUST_KEYS = BASE + "        pull_policy: Always\n        image: ci:latest\n"


def test_rust_keys_wfe_does_not_implement_load_with_a_located_warning() -> None:
    with pytest.warns(YamlWarning) as caught:
        [compiled] = load_workflow_from_str(RUST_KEYS, source="ci.yaml")
    assert [str(w.message) for w in caught] == [
        "ci.yaml:9:9: step 'build': config.pull_policy is ignored: a key of the Rust WFE's step config that "
        "wfe's shell steps do not implement",
        "ci.yaml:10:9: step 'build': config.image is ignored: a key of the Rust WFE's step config that wfe's "
        "shell steps do not implement",
    ]
    assert [str(w) for w in compiled.warnings] == [str(w.message) for w in caught]
    [step] = [s for s in compiled.definition.steps if s.name == "build"]
    assert step.config == {"run": "make"}


def test_strict_loading_turns_the_warning_into_an_error() -> None:
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(RUST_KEYS, source="ci.yaml", strict=True)
    assert str(caught.value).startswith("ci.yaml:9:9: step 'build': config.pull_policy is ignored")
    assert "an error in strict mode" in str(caught.value)


def test_an_ignored_rust_key_meant_as_a_wfe_key_is_named_in_the_error() -> None:
    text = BASE.replace("        run: make", "        command: make")
    assert error_of(text) == (
        "ci.yaml:8:9: Shell step 'build' must have 'config.run' or 'config.file' (config.command is ignored "
        "here: did you mean 'config.run'?)"
    )


def test_the_rust_workflows_yaml_as_shell_steps_warns_about_its_kubernetes_keys(tmp_path: Path) -> None:
    if not WORKFLOWS_YAML.is_file():
        pytest.skip(f"{WORKFLOWS_YAML} is absent (the Rust WFE fixtures live beside the repository)")
    assert _js_available(), "the file's deno steps need the js extra (mini-racer), part of the dev install"
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS_YAML.read_text(encoding="utf-8").replace("type: kubernetes", "type: shell"))
    register_step_type("buildkit", AcceptingStepType("buildkit"))
    try:
        with pytest.warns(YamlWarning) as caught:
            loaded = load_workflow_with_includes(path)
    finally:
        unregister_step_type("buildkit")
    assert len(loaded) == 12
    ignored = set()
    for warning in caught:
        found = re.match(
            r".*workflows\.yaml:\d+:\d+: step '[^']+': config\.(\w+) is ignored", str(warning.message)
        )
        assert found is not None, warning.message
        ignored.add(found.group(1))
    assert ignored == {"image", "pull_policy", "memory", "cpu"}


def test_a_typo_deep_in_a_config_is_located_with_the_key_meant() -> None:
    text = BASE.replace("type: shell", "type: deno").replace(
        "        run: make", "        script: '1'\n        permissions:\n          nett: [example.com]"
    )
    assert error_of(text) == (
        "ci.yaml:10:11: step 'build': unknown field 'config.permissions.nett' "
        "(did you mean 'config.permissions.net'?)"
    )
