"""The progress view and ``--var`` parsing of the command line, on a real host with the example pipeline."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import click
import pytest
from rich.console import Console

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe.cli.progress import ProgressView, format_duration, planned_steps
from wfe.cli.variables import flatten_vars, parse_vars
from wfe_yaml import load_workflow_from_str, load_workflows

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "pipelines" / "ci.yaml"


def test_vars_nest_on_dots_and_round_trip() -> None:
    config = parse_vars(["env=prod", "deploy.region=eu", "deploy.zone=b", "empty=", "eq=a=b"])
    assert config == {"env": "prod", "deploy": {"region": "eu", "zone": "b"}, "empty": "", "eq": "a=b"}
    assert parse_vars(flatten_vars(config)) == config
    with pytest.raises(click.BadParameter):
        parse_vars(["=x"])


def test_durations_read_well() -> None:
    assert format_duration(0.421) == "0.42s"
    assert format_duration(12.34) == "12.3s"
    assert format_duration(125) == "2m05s"
    assert format_duration(3720) == "1h02m"


def test_the_plan_follows_the_default_path_and_nests_parallel_children() -> None:
    compiled = load_workflows(EXAMPLE, {"project": "demo"})[0]
    plan = [(step.name, step.depth) for step in planned_steps(compiled.definition)]
    assert plan == [
        ("checkout", 0),
        ("checks", 0),
        ("lint", 1),
        ("unit-tests", 1),
        ("integration-tests", 1),
        ("package", 0),
    ]


async def test_plain_view_prints_steps_output_and_the_final_tree(tmp_path: Path) -> None:
    out = io.StringIO()
    view = ProgressView(Console(file=out, width=120), live=False)
    compiled = load_workflows(EXAMPLE, {"project": "demo"})[0]
    host = (
        WorkflowHostBuilder()
        .use_persistence(f"sqlite:///{tmp_path}/view.db")
        .use_log_sink(view)
        .use_step_middleware(view.middleware)
        .build()
    )
    host.register_workflow(compiled)
    async with host:
        workflow_id = await host.start_workflow("ci")
        view.follow(workflow_id)
        view.plan(compiled.definition)
        with view:
            instance = await host.wait_for_workflow(workflow_id, 30)
            view.update(instance)
        view.summary()
    assert instance.status is WorkflowStatus.COMPLETE
    text = out.getvalue()
    assert "[checkout] checking out demo" in text
    assert "▶ lint started" in text
    assert "✓ integration-tests done in" in text
    # containers get no start/done lines of their own (their body runs on every pass)
    assert "checks started" not in text
    tree = text[text.index("ci-1  ci  Complete") :]
    assert "  ✓ unit-tests" in tree
    assert "✓ package" in tree
    assert "pending" not in tree


FLAKY = """
workflow:
  id: flaky
  version: 1
  steps:
    - name: flaky
      error_behavior: {type: retry, interval: 1s, max_retries: 3}
      config:
        run: |
          echo x >> "$COUNTER"
          if [ "$(wc -l < "$COUNTER")" -lt 2 ]; then echo "not yet" >&2; exit 1; fi
"""


async def _run_flaky(tmp_path: Path, console: Console, *, live: bool) -> str:
    view = ProgressView(console, live=live)
    compiled = load_workflow_from_str(FLAKY.replace("$COUNTER", str(tmp_path / "count")))[0]
    host = WorkflowHostBuilder().use_log_sink(view).use_step_middleware(view.middleware).build()
    host.register_workflow(compiled)
    async with host:
        workflow_id = await host.start_workflow("flaky")
        view.follow(workflow_id)
        with view:
            seen = ""
            for _ in range(200):
                instance = await host.get_workflow(workflow_id)
                view.update(instance)
                if live and not seen:
                    probe = Console(record=True, width=160)
                    probe.print(view.render())
                    text = probe.export_text()
                    seen = text if "retrying in" in text else ""
                if instance.status is WorkflowStatus.COMPLETE:
                    break
                await asyncio.sleep(0.05)
        view.summary()
    assert instance.status is WorkflowStatus.COMPLETE
    return seen


async def test_a_step_waiting_to_retry_says_when_and_which_attempt_plain(tmp_path: Path) -> None:
    out = io.StringIO()
    await _run_flaky(tmp_path, Console(file=out, width=160), live=False)
    text = out.getvalue()
    assert re.search(r"↻ flaky failed after \S+, retrying in 1s \(attempt 2 of 4\): .*exit", text), text


async def test_a_step_waiting_to_retry_says_when_and_which_attempt_live(tmp_path: Path) -> None:
    seen = await _run_flaky(tmp_path, Console(file=io.StringIO(), force_terminal=True, width=160), live=True)
    assert re.search(r"↻ flaky\s+retrying in (1s|\d+ms) \(attempt 2 of 4\): .*exit", seen), seen
