"""The JSON Schema of the format, and the reference page that must document every field of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wfe_yaml import json_schema

from .rust_fixtures import REPO_ROOT

REFERENCE = REPO_ROOT / "docs" / "yaml-reference.md"
# Definitions owned by optional step types that document themselves elsewhere.
DOCUMENTED_ELSEWHERE = {"JsConfig", "JsPermissions"}


def documented_sections() -> dict[str, str]:
    """Reference page text per ``<!-- schema: Name -->`` marker, up to the next marker."""
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"<!-- schema: (\w+) -->", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def schema_objects() -> dict[str, dict[str, Any]]:
    schema = json_schema()
    objects = {"WorkflowFile": schema}
    objects.update(schema["$defs"])
    return {name: obj for name, obj in objects.items() if obj.get("properties")}


def test_schema_is_json_and_names_the_draft() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    assert set(schema["properties"]) == {"workflow", "workflows", "include"}


def test_schema_refuses_unknown_keys_but_allows_template_keys() -> None:
    schema = json_schema()
    assert schema["patternProperties"] == {"^_": {}}
    assert schema["$defs"]["StepSpec"]["additionalProperties"] is False
    assert schema["$defs"]["WorkflowSpec"]["patternProperties"] == {"^_": {}}


def test_schema_describes_shell_config_under_type_shell() -> None:
    rules = json_schema()["$defs"]["StepSpec"]["allOf"]
    shell = next(r for r in rules if r["if"]["properties"]["type"]["const"] == "shell")
    assert shell["then"]["properties"]["config"]["$ref"] == "#/$defs/ShellConfig"
    assert "run" in json_schema()["$defs"]["ShellConfig"]["properties"]


def test_condition_uses_yaml_key_names() -> None:
    props = json_schema()["$defs"]["Condition"]["properties"]
    assert {"all", "any", "none", "one_of", "not"} <= set(props)
    assert "all_" not in props


@pytest.mark.parametrize("name", sorted(set(schema_objects()) - DOCUMENTED_ELSEWHERE))
def test_every_schema_field_is_documented(name: str) -> None:
    sections = documented_sections()
    assert name in sections, f"docs/yaml-reference.md has no '<!-- schema: {name} -->' section"
    missing = [p for p in schema_objects()[name]["properties"] if f"`{p}`" not in sections[name]]
    assert not missing, f"{name} fields not documented in docs/yaml-reference.md: {missing}"


def test_reference_page_exists() -> None:
    assert Path(REFERENCE).is_file()


def test_schema_describes_git_repo_config_and_shell_inputs() -> None:
    schema = json_schema()
    rules = schema["$defs"]["StepSpec"]["allOf"]
    git = next(r for r in rules if r["if"]["properties"]["type"]["const"] == "git-repo")
    assert git["then"]["properties"]["config"]["$ref"] == "#/$defs/GitRepoConfig"
    git_config = schema["$defs"]["GitRepoConfig"]
    assert git_config["additionalProperties"] is False
    assert {"url", "run", "ref", "branch", "commit", "depth", "submodules", "input", "token_env"} <= set(
        git_config["properties"]
    )
    inputs = schema["$defs"]["ShellConfig"]["properties"]["inputs"]
    assert inputs["type"] == "object" and inputs["additionalProperties"] == {"type": "string"}
