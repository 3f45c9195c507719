"""Loading: the API, interpolation on parsed values, located errors with suggestions, includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfe_yaml import (
    YamlInterpolationError,
    YamlIOError,
    YamlParseError,
    YamlValidationError,
    load_single_workflow_from_str,
    load_workflow,
    load_workflow_from_str,
    load_workflow_with_includes,
    load_workflows,
)

SIMPLE = """\
workflow:
  id: greet
  version: 1
  steps:
    - name: hello
      type: shell
      config:
        run: echo ((message))
"""


def test_load_workflow_from_str_compiles_a_definition() -> None:
    [compiled] = load_workflow_from_str(SIMPLE, {"message": "hi"})
    assert compiled.id == "greet" and compiled.version == 1 and compiled.name == "greet"
    assert compiled.definition.id == "greet"
    assert compiled.spec.steps[0].config == {"run": "echo hi"}
    assert compiled.step_types == frozenset({"shell"})


def test_load_workflow_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(SIMPLE)
    compiled = load_workflow(path, {"message": "hi"})
    assert compiled.source == str(path)
    assert [c.id for c in load_workflows(path, {"message": "x"})] == ["greet"]


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(YamlIOError, match="not found"):
        load_workflow(tmp_path / "absent.yaml")


def test_single_workflow_loader_refuses_several() -> None:
    text = """\
workflows:
  - {id: a, version: 1, steps: [{name: s, type: shell, config: {run: "true"}}]}
  - {id: b, version: 1, steps: [{name: s, type: shell, config: {run: "true"}}]}
"""
    assert [c.id for c in load_workflow_from_str(text)] == ["a", "b"]
    with pytest.raises(YamlValidationError, match="Expected single workflow, got 2"):
        load_single_workflow_from_str(text)


def test_interpolation_ignores_comments_and_accepts_both_syntaxes() -> None:
    text = """\
# ((not_a_variable)) in a comment is fine
workflow:
  id: interp
  version: ((wf.version))
  steps:
    - name: s
      type: shell
      config:
        run: echo ${{ wf.name }} ((wf.name)) ${HOME} $((1 + 2))
"""
    [compiled] = load_workflow_from_str(text, {"wf": {"version": 7, "name": "x"}})
    assert compiled.version == 7
    assert compiled.spec.steps[0].config == {"run": "echo x x ${HOME} $((1 + 2))"}


def test_interpolated_values_never_become_yaml_structure() -> None:
    evil = "x\n      shell: /bin/evil\n      unknown: [1"
    [compiled] = load_workflow_from_str(SIMPLE, {"message": evil})
    assert compiled.spec.steps[0].config == {"run": f"echo {evil}"}


def test_non_string_values_are_inserted_as_json() -> None:
    [compiled] = load_workflow_from_str(SIMPLE.replace("((message))", "((cfg))"), {"cfg": {"a": [1, True]}})
    assert compiled.spec.steps[0].config == {"run": 'echo {"a":[1,true]}'}


def test_missing_variable_names_it_with_its_location() -> None:
    with pytest.raises(YamlInterpolationError) as caught:
        load_workflow_from_str(SIMPLE, {}, source="greet.yaml")
    assert caught.value.variable == "message"
    assert (caught.value.line, caught.value.column) == (8, 19)
    assert str(caught.value).startswith("greet.yaml:8:19: Interpolation error: unresolved variable 'message'")


def test_missing_variable_inside_a_block_scalar_points_at_its_line() -> None:
    text = SIMPLE.replace("run: echo ((message))", "run: |\n          echo one\n          echo ${{ nope }}")
    with pytest.raises(YamlInterpolationError) as caught:
        load_workflow_from_str(text, {}, source="block.yaml")
    assert (caught.value.line, caught.value.column) == (10, 16)


def test_missing_variable_in_a_quoted_scalar_points_at_it() -> None:
    text = SIMPLE.replace("run: echo ((message))", "run: 'say ((nope))'")
    with pytest.raises(YamlInterpolationError) as caught:
        load_workflow_from_str(text, {}, source="q.yaml")
    assert (caught.value.line, caught.value.column) == (8, 19)


def test_unknown_step_key_is_located_with_a_suggestion() -> None:
    text = SIMPLE.replace("      type: shell", "      typ: shell\n      type: shell")
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(text, {"message": "x"}, source="deploy.yaml")
    assert str(caught.value) == "deploy.yaml:6:7: step 'hello': unknown field 'typ' (did you mean 'type'?)"


def test_unknown_config_key_is_located_with_a_suggestion() -> None:
    text = SIMPLE.replace("        run: echo ((message))", "        run: echo\n        shel: bash")
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(text, source="deploy.yaml")
    assert str(caught.value) == (
        "deploy.yaml:9:9: step 'hello': unknown field 'config.shel' (did you mean 'config.shell'?)"
    )


def test_unknown_workflow_key_is_reported_but_underscore_keys_are_free() -> None:
    text = SIMPLE.replace("  version: 1", "  version: 1\n  _templates: {a: 1}\n  descripton: x")
    with pytest.raises(
        YamlValidationError, match=r"unknown field 'descripton' \(did you mean 'description'\?\)"
    ):
        load_workflow_from_str(text, {"message": "x"})


def test_wrong_types_are_located() -> None:
    text = SIMPLE.replace("  version: 1", "  version: one")
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(text, {"message": "x"}, source="w.yaml")
    assert (caught.value.line, caught.value.column) == (3, 12)
    assert caught.value.message.startswith("workflow 'greet': version: Input should be a valid integer")


def test_validation_errors_point_at_the_offending_node() -> None:
    text = """\
workflow:
  id: dup
  version: 1
  steps:
    - name: a
      type: shell
      config: {run: "true"}
    - name: b
      parallel:
        - name: a
          type: shell
          config: {run: "true"}
"""
    with pytest.raises(YamlValidationError) as caught:
        load_workflow_from_str(text, source="dup.yaml")
    assert str(caught.value) == "dup.yaml:10:17: Duplicate step name: 'a'"


def test_parse_errors_are_located() -> None:
    with pytest.raises(YamlParseError) as caught:
        load_workflow_from_str("workflow:\n  id: [unclosed\n", source="bad.yaml")
    assert caught.value.line is not None and caught.value.path == "bad.yaml"
    assert "YAML parse error" in str(caught.value)


def test_duplicate_keys_are_parse_errors() -> None:
    with pytest.raises(YamlParseError, match="duplicate key 'id'"):
        load_workflow_from_str("workflow:\n  id: a\n  id: b\n")


def test_recursive_aliases_are_refused() -> None:
    with pytest.raises(YamlParseError, match="recursive"):
        load_workflow_from_str("workflow: &w\n  id: x\n  version: 1\n  steps: [*w]\n")


def test_bad_durations_are_located() -> None:
    text = SIMPLE.replace("        run: echo ((message))", "        run: echo\n        timeout: soon")
    with pytest.raises(YamlValidationError, match="invalid duration 'soon'") as caught:
        load_workflow_from_str(text, source="t.yaml")
    assert caught.value.line == 9


def test_type_strings_are_checked() -> None:
    text = SIMPLE.replace("  version: 1", "  version: 1\n  inputs:\n    tags: set<string>")
    with pytest.raises(YamlValidationError, match="Unknown generic type: 'set'"):
        load_workflow_from_str(text, {"message": "x"})


def test_include_cycle_and_override(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text("include: [sub/child.yaml]\n" + SIMPLE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text(
        "include: [../main.yaml]\n" + SIMPLE.replace("id: greet", "id: child")
    )
    with pytest.raises(YamlValidationError, match="Circular include detected") as caught:
        load_workflow_with_includes(tmp_path / "main.yaml", {"message": "x"})
    assert caught.value.path.endswith("child.yaml") and caught.value.line == 1


def test_reference_cycles_across_included_files_are_detected(tmp_path: Path) -> None:
    def calling(wf: str, child: str) -> str:
        return (
            f"workflow:\n  id: {wf}\n  version: 1\n  steps:\n    - name: call\n      type: workflow\n"
            f"      config: {{workflow: {child}}}\n"
        )

    (tmp_path / "a.yaml").write_text("include: [b.yaml]\n" + calling("a", "b"))
    (tmp_path / "b.yaml").write_text(calling("b", "a"))
    with pytest.raises(YamlValidationError, match="Circular workflow reference detected: a -> b -> a"):
        load_workflow_with_includes(tmp_path / "a.yaml")


def test_a_step_with_run_and_no_type_is_a_shell_step() -> None:
    [compiled] = load_workflow_from_str(SIMPLE.replace("      type: shell\n", ""), {"message": "x"})
    assert compiled.spec.steps[0].type == "shell"
    assert compiled.step_types == frozenset({"shell"})


def test_an_unclosed_quote_is_reported_where_it_opens() -> None:
    text = SIMPLE.replace("run: echo ((message))", 'run: "echo ((message))') + "    - name: later\n"
    with pytest.raises(YamlParseError) as caught:
        load_workflow_from_str(text, {"message": "x"}, source="q.yaml")
    assert (caught.value.line, caught.value.column) == (8, 14)
    assert caught.value.message.startswith("YAML parse error: unclosed quoted string that opens here (")


def test_an_unclosed_bracket_is_reported_where_it_opens() -> None:
    text = SIMPLE.replace("run: echo ((message))", "run: [echo, hi\n      outputs: []")
    with pytest.raises(YamlParseError) as caught:
        load_workflow_from_str(text, {"message": "x"}, source="b.yaml")
    assert (caught.value.line, caught.value.column) == (8, 14)
    assert "unclosed '[' list that opens here" in caught.value.message
