"""Anchors and aliases: nested aliases that would expand without bound are refused quickly, in little memory,
at the line of the offending anchor; ordinary anchors, aliases and merge keys still load."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_yaml import YamlError, YamlParseError, load_workflow_from_str
from wfe_yaml.document import MAX_ALIAS_NODES

# A refusal costs a pass over the text; these bounds are ten times what it takes on a loaded machine, and they
# are CPU time, which other processes do not inflate.
REFUSAL_CPU_SECONDS = 1.0
REFUSAL_PEAK_BYTES = 32 * 1024 * 1024
LOAD_CPU_SECONDS = 10.0
LOAD_PEAK_BYTES = 256 * 1024 * 1024

WORKFLOW = """\
workflow:
  id: bomb
  version: 1
  steps:
    - name: build
      config:
        run: echo hi
"""


@dataclass
class Cost:
    cpu_seconds: float = 0.0
    peak_bytes: int = 0


@contextmanager
def measured() -> Iterator[Cost]:
    cost = Cost()
    tracemalloc.start()
    started = time.process_time()
    try:
        yield cost
    finally:
        cost.cpu_seconds = time.process_time() - started
        cost.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def anchors(width: int, depth: int, *, prefix: str = "_l") -> tuple[list[str], str]:
    """``depth`` anchors, each a list of ``width`` aliases of the one before (the first holds strings); the
    lines and the name of the last anchor."""
    lines = [f"{prefix}0: &{prefix}0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, depth):
        items = ", ".join([f"*{prefix}{level - 1}"] * width)
        lines.append(f"{prefix}{level}: &{prefix}{level} [{items}]")
    return lines, f"{prefix}{depth - 1}"


def under_ignored_key(width: int, depth: int) -> str:
    lines, _ = anchors(width, depth)
    return "\n".join(lines) + "\n" + WORKFLOW


def in_step_inputs(width: int, depth: int) -> str:
    lines, last = anchors(width, depth)
    return "\n".join(lines) + "\n" + WORKFLOW + f"      inputs: *{last}\n"


def in_workflow_templates(width: int, depth: int) -> str:
    lines, last = anchors(width, depth, prefix="t")
    nested = "\n".join("  " + line for line in lines)
    return (
        WORKFLOW.replace("  version: 1\n", "  version: 1\n  _templates:\n" + nested + "\n")
        + f"      outputs: *{last}\n"
    )


def through_merge_keys(width: int, depth: int) -> str:
    lines = ["_m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(width)) + "}"]
    for level in range(1, depth):
        merged = ", ".join([f"*m{level - 1}"] * width)
        lines.append(f"_m{level}: &m{level} {{<<: [{merged}], own{level}: x}}")
    return "\n".join(lines) + "\n" + WORKFLOW


SHAPES: dict[str, Callable[[int, int], str]] = {
    "under_ignored_key": under_ignored_key,
    "in_step_inputs": in_step_inputs,
    "in_workflow_templates": in_workflow_templates,
    "through_merge_keys": through_merge_keys,
}


def expansion(width: int, depth: int) -> int:
    """Nodes the aliases add: every level past the first repeats the one below ``width`` times."""
    size = width + 1  # the first list and its strings
    added = 0
    for _ in range(1, depth):
        added += (width - 1) * size
        size = width * size + 1
    return added


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    width=st.integers(min_value=4, max_value=16),
    depth=st.integers(min_value=2, max_value=16),
)
def test_alias_bombs_are_refused_in_bounded_time_and_memory(shape: str, width: int, depth: int) -> None:
    text = SHAPES[shape](width, depth)
    added = expansion(width, depth)  # within a factor of two of the loader's count for every shape
    if added > 4 * MAX_ALIAS_NODES:
        with measured() as cost, pytest.raises(YamlParseError) as caught:
            load_workflow_from_str(text, source="bomb.yaml")
        assert "aliases expand the document" in caught.value.message
        assert caught.value.path == "bomb.yaml"
        anchor_lines = [n for n, line in enumerate(text.splitlines(), 1) if "&" in line]
        assert caught.value.line in anchor_lines
        assert cost.cpu_seconds < REFUSAL_CPU_SECONDS, cost
        assert cost.peak_bytes < REFUSAL_PEAK_BYTES, cost
        return
    with measured() as cost:
        try:
            load_workflow_from_str(text, source="bomb.yaml")
        except YamlParseError as exc:
            assert added > MAX_ALIAS_NODES // 2, f"a document within the bound was refused: {exc}"
        except YamlError:
            pass  # e.g. step inputs that are not names: a validation error, found in bounded time
    assert cost.cpu_seconds < LOAD_CPU_SECONDS, cost
    assert cost.peak_bytes < LOAD_PEAK_BYTES, cost


def test_the_nine_by_nine_bomb_names_file_and_line() -> None:
    with measured() as cost, pytest.raises(YamlParseError) as caught:
        load_workflow_from_str(under_ignored_key(9, 9), source="laughs.yaml")
    assert str(caught.value).startswith("laughs.yaml:6:6: YAML parse error: aliases expand the document")
    assert cost.cpu_seconds < REFUSAL_CPU_SECONDS


def test_a_recursive_alias_is_refused_at_its_node() -> None:
    with pytest.raises(YamlParseError, match="refers to a node that contains it") as caught:
        load_workflow_from_str("a: &a [1, *a]\n", source="loop.yaml")
    assert (caught.value.line, caught.value.column) == (1, 4)


def test_anchors_aliases_and_merge_keys_within_the_bound_load() -> None:
    text = """\
_defaults: &defaults
  shell: bash
  env: &env {A: "1"}
workflow:
  id: merged
  version: 1
  steps:
    - name: one
      config:
        <<: *defaults
        run: echo one
    - name: two
      config:
        <<: *defaults
        run: echo two
        env: *env
"""
    [compiled] = load_workflow_from_str(text)
    assert [s.config for s in compiled.definition.steps if s.name == "two"] == [
        {"shell": "bash", "env": {"A": "1"}, "run": "echo two"}
    ]
