"""The workflow's ``on:`` block: webhook triggers for ``wfe serve --http``."""

from __future__ import annotations

import pytest

from wfe_yaml import load_workflow_from_str
from wfe_yaml.errors import YamlValidationError

BASE = """
workflow:
  id: ci
  version: 1
ON
  steps:
    - name: a
      type: shell
      config:
        run: echo hi
"""


def _load(on: str):
    [workflow] = load_workflow_from_str(BASE.replace("ON", on), source="ci.yaml")
    return workflow


def test_a_plain_on_key_holds_the_triggers():
    workflow = _load(
        '  on:\n    push: {branches: [main, "release/*"]}\n    tag: {tags: ["v*"]}\n    pull_request:'
    )
    on = workflow.spec.on
    assert on is not None and set(on) == {"push", "tag", "pull_request"}
    assert on["push"].branches == ["main", "release/*"]
    assert on["tag"].tags == ["v*"]
    assert on["pull_request"] is None


def test_an_unknown_event_is_an_error():
    with pytest.raises(YamlValidationError, match="ci.yaml:"):
        _load("  on:\n    release: {}")


def test_an_unknown_trigger_key_is_an_error():
    with pytest.raises(YamlValidationError, match="branch"):
        _load("  on:\n    push: {branch: main}")


def test_an_event_alone_is_allowed():
    workflow = _load("  on:\n    push:")
    assert "push" in (workflow.spec.on or {})
