"""The Rust WFE's own CI file, with its Kubernetes and BuildKit steps swapped for shell steps, loads, validates and
runs end to end: sub-workflows, parallel blocks, `when` conditions and typed outputs included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe_yaml import load_workflow_from_str

from .rust_fixtures import WORKFLOWS_YAML

UNSHIPPED = {"kubernetes", "buildkit"}
COVERAGE_REPORT = '{"data": [{"totals": {"lines": {"covered": 875, "count": 1000}}}]}'
SAMPLE = {"bool": "true", "number": "87.5", "integer": "3", "string": "v1.2.3"}


def _as_shell(step: dict[str, Any], output_types: dict[str, str]) -> None:
    """Replace an unshipped step's config by a shell command that reports the outputs it declares."""
    lines = [f"echo 'stand-in for {step['name']}'"]
    if step["name"] == "run-coverage":
        # the Deno step after it reads the report this step would have written
        lines.append(f"echo '{COVERAGE_REPORT}' > /tmp/wfe-coverage.json")
    for output in step.get("outputs") or []:
        name = output["name"]
        kind = output_types.get(name, "string").rstrip("?")
        value = "false" if name.endswith("already_existed") else SAMPLE.get(kind, "x")
        lines.append(f"echo '##wfe[output {name}={value}]'")
    step["type"] = "shell"
    step["config"] = {"run": "\n".join(lines), "timeout": "30s"}


def _swap(steps: list[dict[str, Any]], output_types: dict[str, str]) -> int:
    swapped = 0
    for step in steps:
        if step.get("type") in UNSHIPPED:
            _as_shell(step, output_types)
            swapped += 1
        swapped += _swap(step.get("parallel") or [], output_types)
        for hook in ("on_success", "on_failure", "ensure"):
            if isinstance(step.get(hook), dict):
                swapped += _swap([step[hook]], output_types)
    return swapped


def shell_copy(workspace: Path) -> tuple[str, int]:
    """The file with unshipped steps swapped for shell steps and its shared volume at ``workspace``."""
    text = WORKFLOWS_YAML.read_text(encoding="utf-8").replace("/workspace", str(workspace))
    document = yaml.safe_load(text)
    document.pop("_templates", None)
    swapped = 0
    for workflow in document["workflows"]:
        swapped += _swap(workflow["steps"], dict(workflow.get("outputs") or {}))
    return yaml.safe_dump(document, sort_keys=False), swapped


async def test_rust_ci_pipeline_with_shell_stand_ins_runs_to_completion(tmp_path: Path) -> None:
    if not WORKFLOWS_YAML.is_file():
        pytest.skip(f"{WORKFLOWS_YAML} is absent (the Rust WFE fixtures live beside the repository)")
    checkout = tmp_path / "workspace" / "wfe"
    checkout.mkdir(parents=True)
    (checkout / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [v1.2.3]\n- faster passes\n\n## [v1.2.2]\n- old\n"
    )
    text, swapped = shell_copy(tmp_path / "workspace")
    assert swapped >= 20
    compiled = load_workflow_from_str(text, source="workflows-shell.yaml")
    assert len(compiled) == 12

    host = WorkflowHostBuilder().build()
    for workflow in compiled:
        host.register_workflow(workflow)
    async with host:
        wid = await host.start_workflow(
            "ci",
            1,
            {"repo_url": "https://example.invalid/wfe.git", "commit_sha": "abc123", "branch": "mainline"},
        )
        done = await host.wait_for_workflow(wid, timeout=timedelta(seconds=120))
        errors = await host.get_errors(wid)
        children = [i for i in await host.persistence.list_workflows(take=100) if i.id != wid]
    assert done.status is WorkflowStatus.COMPLETE, errors
    data = done.data
    assert data["commit"] == "v1.2.3"
    assert data["fmt_ok"] is True and data["clippy_ok"] is True
    assert data["version"] == "v1.2.3"
    assert data["tag_created"] is True, (
        "the tag did not exist, so create-tag ran and the release path followed"
    )
    assert data["image_pushed"] is True
    # The Rust file names some step outputs differently from its child workflows' data (published vs
    # all_published); those simply do not flow back, as in the Rust engine. Every child ran and completed:
    assert {i.workflow_definition_id for i in children} == {
        "checkout",
        "lint",
        "test",
        "test-unit",
        "test-integration",
        "test-kubernetes",
        "cover",
        "tag",
        "publish",
        "image",
        "release",
    }
    assert all(i.status is WorkflowStatus.COMPLETE for i in children)
