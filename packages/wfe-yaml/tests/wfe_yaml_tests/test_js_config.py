"""``JsStepType`` (the ``deno``/``js`` YAML step types) and ``JsConfig``: entry points, durations, validation."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from wfe_yaml.js import JsConfig, JsStepType, parse_duration
from wfe_yaml.plugin import StepType


def test_entry_points_resolve_to_the_step_type() -> None:
    found = {ep.name: ep for ep in entry_points(group="wfe.steps") if ep.name in ("deno", "js")}
    assert set(found) == {"deno", "js"}
    for ep in found.values():
        step_type = ep.load()()
        assert isinstance(step_type, JsStepType)
        assert isinstance(step_type, StepType)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("500ms", 0.5), ("5m", 300.0), ("1h", 3600.0), (1500, 1.5), ("250", 0.25), (2.5, 0.0025)],
)
def test_durations(value: Any, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["soon", "-5s", 0, True, "10 parsecs"])
def test_bad_durations(value: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_config_accepts_rust_spellings_and_defaults() -> None:
    config = JsConfig.model_validate({"script": "1", "timeout_ms": 3000, "permissions": None})
    assert config.timeout == 3.0
    assert config.permissions.net == [] and not config.permissions.dynamic_import
    full = JsConfig.model_validate(
        {
            "file": "x.js",
            "timeout": "2s",
            "env": {"A": "1", "B": 2, "C": True},
            "modules": ["npm:x@1"],
            "permissions": {
                "net": ["api.test"],
                "read": ["/data"],
                "write": [],
                "env": ["HOME"],
                "run": False,
                "dynamic_import": True,
            },
        }
    )
    assert full.env == {"A": "1", "B": "2", "C": "true"}
    assert full.permissions.dynamic_import


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "must have 'script' or 'file'"),
        ({"script": "1", "file": "a.js"}, "must have 'script' or 'file'"),
        ({"script": "1", "timeout": "soon"}, "invalid duration"),
        ({"script": "1", "scrpt": "x"}, "unknown config key 'scrpt' (did you mean 'script'?)"),
        (
            {"script": "1", "permissions": {"nett": ["a"]}},
            "unknown config key 'permissions.nett' (did you mean 'net'?)",
        ),
        ({"script": "1", "permissions": {"net": "a.test"}}, "must be a list of strings"),
        ({"script": "1", "timeout": "1s", "timeout_ms": 5}, "either 'timeout' or 'timeout_ms'"),
    ],
)
def test_validate_reports_problems(config: dict[str, Any], problem: str) -> None:
    problems = JsStepType().validate(config, step_name="s")
    assert any(problem in p for p in problems), problems
    with pytest.raises(ValueError):
        JsStepType().create(config, step_name="s", workflow_id="wf")


def test_validate_accepts_good_config() -> None:
    assert JsStepType().validate({"script": "output('a', 1)", "timeout": "5s"}, step_name="s") == []
    assert JsStepType().validate({"file": "step.ts", "permissions": {"net": ["x.test"]}}, step_name="s") == []


@pytest.mark.parametrize("missing", ["py_mini_racer", "aiohttp"])
def test_missing_js_extra_names_the_install_command(missing: str) -> None:
    # A fresh interpreter in which a module of the `js` extra cannot be imported, exactly as without the extra.
    code = f"""
import sys
sys.modules[{missing!r}] = None
import wfe_yaml.js as js
problems = js.JsStepType().validate({{"script": "1"}}, step_name="s")
print(problems[0])
try:
    js.JsStepType().create({{"script": "1"}}, step_name="s", workflow_id="w")
except js.JsRuntimeMissingError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert all('pip install "wfe-yaml[js]"' in line for line in lines)
