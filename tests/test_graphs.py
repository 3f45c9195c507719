"""Definition graphs: ``to_dot()`` parses with a Graphviz DOT grammar (pydot's) for every example and every
Rust WFE fixture that loads, and the pure-Python SVG renders as XML with a node per step."""

from __future__ import annotations

import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import WfeError
from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance

pydot = pytest.importorskip("pydot")  # a test tool: Graphviz's DOT grammar

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "rust-wfe"
SVG = "{http://www.w3.org/2000/svg}"
WFE = str(Path(sys.executable).parent / "wfe")
# Runtime placeholders the Rust tests filled in (as the wfe-yaml fixture tests do).
PLACEHOLDERS = {
    "{SERVER_URI}": "http://127.0.0.1:9",
    "{SCRIPT_PATH}": "/tmp/wfe-script.js",
    "{MAIN_PATH}": "/tmp/wfe-main.js",
    "{DIR}": "/tmp",
}


def _pizza() -> list[WorkflowDefinition]:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import pizza
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return [pizza.build_pizza_workflow(), pizza.build_receipt_workflow()]


def _yaml(path: Path, config: dict[str, object] | None = None) -> list[WorkflowDefinition]:
    import wfe_yaml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = wfe_yaml.load_workflow_from_str(path.read_text(encoding="utf-8"), config, source=path.name)
    return [workflow.definition for workflow in compiled]


def _fixture_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted([FIXTURES / "workflows.yaml", *(FIXTURES / "yaml-tests").glob("*.yaml")])


def _parse(dot: str) -> pydot.Dot:
    with warnings.catch_warnings():
        # pydot builds its grammar with pyparsing's older method names, which newer pyparsing deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        graphs = pydot.graph_from_dot_data(dot)
    assert graphs is not None and len(graphs) == 1, dot
    return graphs[0]


def _check_dot(definition: WorkflowDefinition) -> None:
    graph = _parse(definition.to_dot())
    names = {node.get_name() for node in graph.get_nodes()} - {"node", "edge", "graph"}
    assert names == {f"s{step.id}" for step in definition.steps}
    for edge in graph.get_edges():
        assert edge.get_source() in names and edge.get_destination() in names


def test_examples_dot_parses():
    definitions = [*_pizza(), *_yaml(ROOT / "examples" / "pipelines" / "ci.yaml", {"project": "demo"})]
    for definition in definitions:
        _check_dot(definition)


def _yaml_text(text: str, source: str, config: dict[str, object]) -> list[WorkflowDefinition]:
    import wfe_yaml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = wfe_yaml.load_workflow_from_str(text, config, source=source)
    return [workflow.definition for workflow in compiled]


def _fixture_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def _loading_fixtures() -> list[Path]:
    """The fixtures that load in wfe (those that do not, by design, are checked by wfe-yaml's fixture tests:
    unshipped step types, files the Rust suite itself expected to fail)."""
    from wfe_yaml.errors import YamlError

    loading = []
    for path in _fixture_files():
        try:
            _yaml_text(_fixture_text(path), path.name, {"message": "hello"})
        except (YamlError, WfeError):
            continue
        loading.append(path)
    return loading


LOADING_FIXTURES = _loading_fixtures()


def test_most_fixtures_load_for_the_graph_checks():
    # the Rust WFE's suite has 258 files; the ones of unshipped step types (rustlang, containerd, buildkit)
    # and the expected failures do not load
    assert len(LOADING_FIXTURES) >= 150, len(LOADING_FIXTURES)


@pytest.mark.parametrize("path", LOADING_FIXTURES, ids=lambda p: p.name)
def test_fixture_dot_parses(path: Path):
    for definition in _yaml_text(_fixture_text(path), path.name, {"message": "hello"}):
        _check_dot(definition)


def test_dot_escapes_quotes_and_colours_an_instance():
    pizza = _pizza()[0]
    instance = WorkflowInstance(
        workflow_definition_id=pizza.id,
        version=pizza.version,
        create_time="2026-01-01T00:00:00Z",
        execution_pointers=[
            ExecutionPointer(step_id=0, status=PointerStatus.COMPLETE),
            ExecutionPointer(step_id=1, status=PointerStatus.FAILED),
            ExecutionPointer(step_id=1, status=PointerStatus.COMPLETE),
        ],
    )
    graph = _parse(pizza.to_dot(instance))
    fills = {node.get_name(): node.get("fillcolor") for node in graph.get_nodes()}
    assert fills["s0"] == '"#86efac"'  # complete
    assert fills["s1"] == '"#fca5a5"'  # a failed attempt shows over a later complete one
    assert fills.get("s2") is None


def _svg_nodes(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            text = group.find(f"{SVG}text")
            assert text is not None and group.find(f"{SVG}rect") is not None
            nodes[group.get("id", "")] = text.text or ""
    return nodes


def test_pizza_svg_renders():
    for definition in _pizza():
        nodes = _svg_nodes(definition.to_svg())
        assert set(nodes) == {f"step-{step.id}" for step in definition.steps}


def test_ci_svg_from_the_command_line():
    result = subprocess.run(
        [
            WFE,
            "graph",
            str(ROOT / "examples" / "pipelines" / "ci.yaml"),
            "--var",
            "project=demo",
            "--format",
            "svg",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    nodes = _svg_nodes(result.stdout)
    assert sorted(nodes.values()) == sorted(
        ["checkout", "checks", "lint", "unit-tests", "integration-tests", "package"]
    )


def test_graph_command_dot_parses():
    result = subprocess.run(
        [WFE, "graph", str(ROOT / "examples" / "pipelines" / "ci.yaml")] + ["--var", "project=demo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(_parse(result.stdout).get_edges()) == 5
