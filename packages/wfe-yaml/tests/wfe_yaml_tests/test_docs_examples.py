"""Every YAML example in docs/yaml-reference.md loads and validates, or is marked as a deliberate bad example.

A fenced ``yaml`` block must load without warnings. The line just before its fence may mark it instead:
``<!-- example: warns -->`` (it loads, with warnings) or ``<!-- example: invalid -->`` (it fails to load). A
``text`` block right after a marked example is the output it documents, checked line for line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import pytest

from wfe_yaml import YamlError, YamlWarning, load_workflow_from_str
from wfe_yaml.keys import RUST_STEP_CONFIG_KEYS

from .rust_fixtures import REPO_ROOT

REFERENCE = REPO_ROOT / "docs" / "yaml-reference.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
MARK = re.compile(r"<!-- example: (warns|invalid) -->\n$")


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    kind: str  # "valid", "warns" or "invalid"
    output: str | None  # the text block documenting its output, if any


def examples() -> list[Example]:
    doc = REFERENCE.read_text(encoding="utf-8")
    blocks = list(FENCE.finditer(doc))
    found: list[Example] = []
    for index, block in enumerate(blocks):
        if block.group(1) != "yaml":
            continue
        mark = MARK.search(doc[: block.start()])
        kind = mark.group(1) if mark else "valid"
        output = None
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if (
            following is not None
            and following.group(1) == "text"
            and not doc[block.end() : following.start()].strip()
        ):
            output = following.group(2)
        found.append(Example(doc.count("\n", 0, block.start()) + 2, block.group(2), kind, output))
    return found


EXAMPLES = examples()


def test_the_reference_has_examples_of_each_kind() -> None:
    assert {e.kind for e in EXAMPLES} == {"valid", "warns", "invalid"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line-{e.line}-{e.kind}" for e in EXAMPLES])
def test_yaml_reference_example(example: Example) -> None:
    if example.kind == "invalid":
        with pytest.raises(YamlError) as caught:
            load_workflow_from_str(example.text, source="ci.yaml")
        if example.output is not None:
            assert example.output.splitlines() == [str(caught.value)]
        return
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always", YamlWarning)
        compiled = load_workflow_from_str(example.text, source="ci.yaml")
    assert compiled
    issued = [w.message for w in caught_warnings if isinstance(w.message, YamlWarning)]
    if example.kind == "valid":
        assert not issued, [str(w) for w in issued]
        return
    assert issued, "an example marked 'warns' loads without a warning"
    if example.output is not None:
        shown = [f"{w.path}:{w.line}:{w.column}: warning: {w.message}" for w in issued]
        assert example.output.splitlines() == shown


def test_the_reference_lists_every_rust_config_key() -> None:
    doc = REFERENCE.read_text(encoding="utf-8")
    section = doc[doc.index("## Keys from the Rust WFE") : doc.index("## Validation order")]
    listed = set(re.findall(r"`(\w+)`", section))
    assert RUST_STEP_CONFIG_KEYS <= listed, sorted(RUST_STEP_CONFIG_KEYS - listed)
