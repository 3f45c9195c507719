"""Values a store may refuse (a NUL character, NaN): a failure of the step that produced them, or kept intact.

PostgreSQL cannot keep either in JSON: the pass counts as a failure of its step, recorded as an ExecutionError
naming the step and the data key, and the step's error behaviour bounds the runs (``max_retries + 1``). SQLite
and the in-memory store keep both and give them back intact.
"""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from wfe import ErrorBehavior, StepExecutionContext, WorkflowBuilder, WorkflowStatus
from wfe_yaml import load_workflow_from_str

RETRIES = 2
FAST_RETRY = ErrorBehavior.retry(timedelta(milliseconds=20), max_retries=RETRIES)


def _refuses(host: Any) -> bool:
    """Whether the host's store refuses NUL characters and NaN (PostgreSQL) rather than keeping them."""
    return type(host.persistence).__name__ == "PostgresPersistence"


async def _bounded_or_intact(host: Any, workflow_id: str, runs: list[int], key: str, check: Any) -> None:
    """The workflow either completed with ``key`` read back intact, or was suspended after the step ran
    ``max_retries + 1`` times, with an ExecutionError per run naming the step and the key."""
    done = await host.wait_for_workflow(
        workflow_id, timeout=20, statuses=[WorkflowStatus.COMPLETE, WorkflowStatus.SUSPENDED]
    )
    assert (done.status is WorkflowStatus.SUSPENDED) is _refuses(host), done.status
    if done.status is WorkflowStatus.COMPLETE:
        assert len(runs) == 1
        check((await host.persistence.get_workflow(workflow_id)).data[key])
        return
    assert len(runs) == RETRIES + 1, runs
    errors = await host.get_errors(workflow_id)
    assert len(errors) == RETRIES + 1
    for error in errors:
        assert "ValueRefusedError" in error.message and "'produce'" in error.message, error.message
        assert f"data[{key!r}]" in error.message, error.message


async def test_a_python_step_producing_nan(make_host):
    runs: list[int] = []

    def produce(ctx: StepExecutionContext) -> None:
        runs.append(1)
        ctx.data["ratio"] = float("nan")

    definition = WorkflowBuilder().then_fn(produce).on_error(FAST_RETRY).build("nan-step", 1)
    host = await make_host(definition)
    workflow_id = await host.start_workflow("nan-step", 1, {})
    await _bounded_or_intact(host, workflow_id, runs, "ratio", lambda value: math.isnan(value))


async def test_a_python_step_producing_a_nul_character(make_host):
    runs: list[int] = []

    def produce(ctx: StepExecutionContext) -> None:
        runs.append(1)
        ctx.data["text"] = "before\x00after"

    definition = WorkflowBuilder().then_fn(produce).on_error(FAST_RETRY).build("nul-step", 1)
    host = await make_host(definition)
    workflow_id = await host.start_workflow("nul-step", 1, {})
    await _bounded_or_intact(host, workflow_id, runs, "text", lambda value: value == "before\x00after")


async def test_a_shell_step_printing_a_nul_byte(make_host, tmp_path: Path):
    counter = tmp_path / "runs"
    script = tmp_path / "print_nul.py"
    script.write_text(
        f"import sys\nopen({str(counter)!r}, 'a').write('x')\nsys.stdout.write('before\\x00after\\n')\n"
    )
    compiled = load_workflow_from_str(
        f"""
workflow:
  id: nul-shell
  version: 1
  steps:
    - name: produce
      type: shell
      config:
        run: {sys.executable} {script}
      error_behavior:
        type: retry
        interval: 20ms
        max_retries: {RETRIES}
"""
    )
    host = await make_host(compiled[0])
    workflow_id = await host.start_workflow("nul-shell", 1, {})
    # A YAML step that fails for good fails the run once its retries are spent (GitHub Actions' semantics).
    done = await host.wait_for_workflow(
        workflow_id, timeout=30, statuses=[WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED]
    )
    runs = [1] * len(counter.read_text())
    assert (done.status is WorkflowStatus.TERMINATED) is _refuses(host), done.status
    if done.status is WorkflowStatus.COMPLETE:
        stored = (await host.persistence.get_workflow(workflow_id)).data
        assert len(runs) == 1 and "before\x00after" in stored["produce.stdout"]
        return
    assert len(runs) == RETRIES + 1, runs
    errors = await host.get_errors(workflow_id)
    refused = [e for e in errors if "ValueRefusedError" in e.message]
    assert len(refused) == RETRIES + 1, errors
    assert all("'produce.stdout'" in e.message for e in refused), errors
    # and the step, failing for good, failed the run
    assert [e.message for e in errors if e not in refused] == ["StepFailedError: step 'produce' failed"], (
        errors
    )
