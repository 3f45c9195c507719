"""Durations out of range (infinity, NaN, more than a year) are refused when the file loads, at their line."""

from __future__ import annotations

import pytest

from wfe_yaml import load_workflow_from_str
from wfe_yaml.durations import MAX_DURATION_MS, parse_duration_ms
from wfe_yaml.errors import YamlValidationError

WORKFLOW = """\
workflow:
  id: retrying
  version: 1
  steps:
    - name: s
      type: shell
      error_behavior:
        type: retry
        interval: {interval}
      config:
        run: echo
        timeout: {timeout}
"""


@pytest.mark.parametrize("interval", [".inf", ".nan", "1e30", "99999999h", "366 * 24h"])
def test_an_unbounded_retry_interval_is_a_located_error(interval: str) -> None:
    text = WORKFLOW.format(interval=interval, timeout="1s")
    with pytest.raises(YamlValidationError, match="invalid duration") as caught:
        load_workflow_from_str(text, source="retry.yaml")
    assert caught.value.line == 9


@pytest.mark.parametrize("timeout", [".inf", "9000h"])
def test_an_unbounded_timeout_names_the_limit(timeout: str) -> None:
    with pytest.raises(YamlValidationError, match=r"at most a year \(8760h\)"):
        load_workflow_from_str(WORKFLOW.format(interval="1s", timeout=timeout), source="retry.yaml")


def test_a_year_is_the_longest_duration() -> None:
    assert parse_duration_ms("8760h") == MAX_DURATION_MS
    assert parse_duration_ms(float(MAX_DURATION_MS)) == MAX_DURATION_MS
    load_workflow_from_str(WORKFLOW.format(interval="8760h", timeout="1h"), source="retry.yaml")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "9000h"])
def test_javascript_timeouts_are_bounded_too(value: object) -> None:
    from wfe_yaml.js.config import parse_duration

    with pytest.raises(ValueError, match=r"at most a year|must be positive"):
        parse_duration(value)
