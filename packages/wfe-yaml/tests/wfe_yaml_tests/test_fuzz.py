"""Fuzzing the loader: random and mutated documents raise YamlError subclasses and nothing else."""

from __future__ import annotations

import os
import warnings
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_yaml import YamlError, YamlWarning, load_workflow_from_str

from .rust_fixtures import YAML_TESTS, fill_placeholders

FUZZ = settings(
    max_examples=int(os.environ.get("WFE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

KEYS = [
    "workflow",
    "workflows",
    "include",
    "_templates",
    "id",
    "version",
    "name",
    "description",
    "steps",
    "type",
    "config",
    "run",
    "file",
    "script",
    "shell",
    "env",
    "timeout",
    "working_dir",
    "parallel",
    "when",
    "field",
    "equals",
    "gt",
    "contains",
    "is_null",
    "all",
    "any",
    "not",
    "one_of",
    "none",
    "error_behavior",
    "interval",
    "max_retries",
    "on_success",
    "on_failure",
    "ensure",
    "inputs",
    "outputs",
    "services",
    "image",
    "workflow_version",
    "script",
    "permissions",
    "net",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "shell",
            "workflow",
            "deno",
            "retry",
            "suspend",
            "1s",
            "5m",
            "bogus",
            "list<string>",
            "string?",
            ".inputs.x",
            ".outputs.y",
            "((var))",
            "${{ var }}",
            "echo hi",
        ]
    ),
    st.text(max_size=12),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=30,
)


def _fixture_texts() -> list[str]:
    if not YAML_TESTS.is_dir():
        return [
            "workflow:\n  id: x\n  version: 1\n  steps:\n    - name: a\n      type: shell\n      config: {run: 'true'}\n"
        ]
    return [fill_placeholders(p.read_text(encoding="utf-8")) for p in sorted(YAML_TESTS.glob("*.yaml"))]


FIXTURES = _fixture_texts()


def load_quietly(text: str, config: dict[str, Any] | None = None) -> None:
    with warnings.catch_warnings(record=True) as issued:
        warnings.simplefilter("always", YamlWarning)
        try:
            load_workflow_from_str(text, config, source="fuzz.yaml")
        except YamlError as exc:
            assert str(exc).startswith("fuzz.yaml")
    for warning in issued:  # keys of the Rust WFE's step config (``image``, ``inputs``) warn, located
        assert isinstance(warning.message, YamlWarning), warning
        assert str(warning.message).startswith("fuzz.yaml:"), warning.message


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    load_quietly(text)


@FUZZ
@given(TREES, st.dictionaries(st.sampled_from(["var", "x"]), SCALARS, max_size=2))
def test_random_documents(tree: Any, config: dict[str, Any]) -> None:
    load_quietly(yaml.safe_dump({"workflow": tree} if isinstance(tree, dict) else tree), config)


@FUZZ
@given(
    st.sampled_from(FIXTURES),
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "insert", "duplicate", "swap", "indent"]),
            st.integers(0, 10**6),
            st.text(alphabet=" :-[]{}&*!|>'\"#\n\tabc0", max_size=6),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_fixtures(text: str, mutations: list[tuple[str, int, str]]) -> None:
    for kind, position, payload in mutations:
        lines = text.split("\n")
        line = position % max(len(lines), 1)
        offset = position % (len(text) + 1)
        if kind == "delete":
            text = text[:offset] + text[offset + len(payload) + 1 :]
        elif kind == "insert":
            text = text[:offset] + payload + text[offset:]
        elif kind == "duplicate":
            lines.insert(line, lines[line])
            text = "\n".join(lines)
        elif kind == "swap" and len(lines) > 1:
            other = (line + 1) % len(lines)
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
        elif kind == "indent":
            lines[line] = "  " + lines[line]
            text = "\n".join(lines)
    load_quietly(text, {"message": "m", "version": 2})


def test_deeply_nested_input_is_a_yaml_error() -> None:
    load_quietly("workflow: " + "[" * 5000 + "]" * 5000)
    load_quietly("workflow:\n  id: x\n  version: 1\n  steps:\n" + "    - " * 2000 + "x\n")
