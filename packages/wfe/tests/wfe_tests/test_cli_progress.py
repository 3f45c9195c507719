"""The progress view and ``--var`` parsing of the command line, on a real host with the example pipeline."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pytest
from rich.console import Console

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe.cli.progress import ProgressView, format_duration, planned_steps
from wfe.cli.variables import flatten_vars, parse_vars
from wfe_yaml import load_workflows

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
