"""The Rust WFE's YAML test files (saved beside the repository) and what its suite expected of each."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests/wfe_yaml_tests -> tests -> wfe-yaml -> packages -> repository root; the fixtures sit beside the root.
REPO_ROOT = Path(__file__).resolve().parents[4]
FIXTURES = REPO_ROOT / ".." / "shared" / "fixtures" / "rust-wfe"
YAML_TESTS = FIXTURES / "yaml-tests"
WORKFLOWS_YAML = FIXTURES / "workflows.yaml"


def fixture_names() -> list[str]:
    """Every saved fixture file name, or an empty list when the folder is absent."""
    if not YAML_TESTS.is_dir():
        return []
    return sorted(p.name for p in YAML_TESTS.glob("*.yaml"))


def require_fixtures() -> None:
    if not YAML_TESTS.is_dir():
        pytest.skip(f"the Rust WFE fixtures are not at {YAML_TESTS} (they live beside the repository)")


def fixture_text(name: str) -> str:
    return (YAML_TESTS / name).read_text(encoding="utf-8")


# Step types of the Rust ecosystem that wfe does not ship: these files must fail with the
# "available types / a plugin can provide it" error naming the type.
UNSHIPPED_PREFIXES = {
    "rustlang_": None,
    "validation_buildkit_": "buildkit",
    "validation_containerd_": "containerd",
    "validation_unknown_step_type_returns_compilation_error": "terraform",
}

V, P = "YamlValidationError", "YamlParseError"

# Files the Rust suite expected to fail (error class name, message fragment).
EXPECTED_ERRORS: dict[str, tuple[str, str]] = {
    "schema_invalid_yaml_returns_error.yaml": (P, "YAML parse error"),
    "lib_tests_load_workflow_from_str_with_invalid_yaml_returns_error.yaml": (
        P,
        "YAML parse error",
    ),
    "lib_tests_load_workflow_from_str_with_unresolved_variable_returns_error.yaml": (
        "YamlInterpolationError",
        "unresolved variable 'missing'",
    ),
    "compiler_missing_config_section_returns_error.yaml": (
        V,
        "must have a 'config' section",
    ),
    "compiler_unknown_error_behavior_returns_error.yaml": (
        V,
        "Invalid error behavior type",
    ),
    "validation_both_workflow_and_workflows_returns_error.yaml": (
        V,
        "Cannot specify both",
    ),
    "validation_neither_workflow_nor_workflows_returns_error.yaml": (
        V,
        "Must specify either 'workflow' or 'workflows'",
    ),
    "validation_empty_workflows_list_returns_error.yaml": (V, "workflows list is empty"),
    "validation_empty_steps_returns_validation_error.yaml": (V, "at least one step"),
    "validation_step_with_no_type_and_no_parallel_returns_error.yaml": (
        V,
        "must have either 'type' + 'config' or 'parallel'",
    ),
    "validation_step_with_both_type_and_parallel_returns_error.yaml": (
        V,
        "cannot have both 'type' and 'parallel'",
    ),
    "validation_duplicate_step_names_returns_error.yaml": (
        V,
        "Duplicate step name: 'deploy'",
    ),
    "validation_hook_steps_are_also_validated_for_duplicates.yaml": (
        V,
        "Duplicate step name",
    ),
    "validation_parallel_children_duplicate_names_detected.yaml": (
        V,
        "Duplicate step name",
    ),
    "validation_shell_step_missing_run_and_file_returns_error.yaml": (
        V,
        "must have 'config.run' or 'config.file'",
    ),
    "validation_shell_step_missing_config_section_returns_error.yaml": (
        V,
        "must have a 'config' section",
    ),
    "validation_invalid_error_behavior_type_returns_error.yaml": (
        V,
        "Invalid error behavior",
    ),
    "validation_invalid_step_level_error_behavior_returns_error.yaml": (
        V,
        "Invalid error behavior",
    ),
    "validation_workflow_step_missing_config_returns_error.yaml": (V, "'config' section"),
    "validation_workflow_step_missing_workflow_field_returns_error.yaml": (
        V,
        "must have 'config.workflow'",
    ),
    "validation_multi_workflow_duplicate_ids_returns_error.yaml": (
        V,
        "Duplicate workflow ID",
    ),
    "validation_circular_reference_detected.yaml": (
        V,
        "Circular workflow reference detected",
    ),
    "validation_self_referencing_workflow_detected.yaml": (
        V,
        "Circular workflow reference",
    ),
    "validation_three_node_cycle_detected.yaml": (V, "Circular workflow reference"),
    "validation_workflow_ref_in_on_success_hook_detected_for_cycles.yaml": (
        V,
        "Circular",
    ),
    "validation_workflow_ref_in_ensure_hook_detected_for_cycles.yaml": (V, "Circular"),
    "validation_workflow_ref_in_parallel_block_detected_for_cycles.yaml": (V, "Circular"),
    "validation_on_failure_hook_with_invalid_step_returns_error.yaml": (
        V,
        "'config' section",
    ),
    "validation_on_success_hook_with_invalid_step_returns_error.yaml": (
        V,
        "'config' section",
    ),
    "validation_ensure_hook_with_invalid_step_returns_error.yaml": (
        V,
        "'config' section",
    ),
    "validation_parallel_with_nested_invalid_child_returns_error.yaml": (
        V,
        "'config' section",
    ),
    "validation_condition_field_missing_input_returns_error.yaml": (
        V,
        "unknown input field",
    ),
    "validation_condition_field_missing_output_returns_error.yaml": (
        V,
        "unknown output field",
    ),
    "validation_condition_gt_on_string_returns_type_error.yaml": (V, "number/integer"),
    "validation_condition_contains_on_bool_returns_type_error.yaml": (V, "string/list"),
    "validation_condition_is_null_on_non_optional_returns_error.yaml": (V, "optional"),
    "validation_unused_output_field_returns_error.yaml": (
        V,
        "never produced by any step",
    ),
    "validation_condition_invalid_field_path_segment_returns_error.yaml": (
        V,
        "must start with 'inputs' or 'outputs'",
    ),
    # The Rust schema test only deserialises this file; its declared outputs are produced by no step, which
    # the Rust validation (and wfe's) rejects on load.
    "schema_parse_workflow_with_input_output_schemas.yaml": (
        V,
        "Declared output 'artifact_path' is never produced",
    ),
    "validation_load_single_workflow_from_multi_file_returns_error.yaml": (
        V,
        "Expected single workflow, got 2",
    ),
}

# Deno files the Rust suite expected to be rejected when the JavaScript step type is installed.
DENO_EXPECTED_ERRORS = {
    "deno_e2e_validation_rejects_deno_step_no_config.yaml": "'config' section",
    "deno_validation_deno_step_missing_config.yaml": "'config' section",
    "validation_deno_step_missing_config_returns_error.yaml": "'config' section",
    "deno_e2e_validation_rejects_deno_step_no_script_or_file.yaml": "",
    "deno_validation_deno_step_missing_script_and_file.yaml": "",
    "validation_deno_step_missing_script_and_file_returns_error.yaml": "",
}

# Config for files with genuine interpolation variables.
_CONTAINERD = {
    "containerd_addr": "/run/containerd/containerd.sock",
    "cargo_home": "/tmp/cargo",
    "rustup_home": "/tmp/rustup",
    "workspace": "/tmp/workspace",
}
CONFIGS = {
    "lib_tests_load_workflow_from_str_with_interpolation.yaml": {"message": "hello"},
    "rustlang_containerd_full_rust_pipeline_in_container.yaml": _CONTAINERD,
    "rustlang_containerd_minimal_echo_in_containerd_via_workflow.yaml": _CONTAINERD,
    "rustlang_containerd_rust_install_in_bare_container.yaml": _CONTAINERD,
}

# Runtime placeholders the Rust tests filled with format!().
PLACEHOLDERS = {
    "{SERVER_URI}": "http://127.0.0.1:9",
    "{SCRIPT_PATH}": "/tmp/wfe-script.js",
    "{MAIN_PATH}": "/tmp/wfe-main.js",
    "{DIR}": "/tmp",
}


def fill_placeholders(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def unshipped_type(name: str) -> str | None | bool:
    """The unshipped step type a file uses (None: any), or False when it uses only shipped ones."""
    for prefix, step_type in UNSHIPPED_PREFIXES.items():
        if name.startswith(prefix):
            return step_type
    return False
