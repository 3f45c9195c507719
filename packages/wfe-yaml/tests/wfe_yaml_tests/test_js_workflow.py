"""JavaScript steps inside YAML workflows run by a host: outputs merge into the data, failures follow error_behavior."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe import WorkflowHost, WorkflowHostBuilder
from wfe_yaml.js import default_pool
from wfe_yaml.loader import load_workflow_from_str

PIPELINE = """
workflow:
  id: js-pipeline
  version: 1
  steps:
    - name: double
      type: deno
      config:
        script: |
          const d = inputs();
          console.log("got", d.n);
          output("doubled", d.n * 2);
    - name: typed
      type: js
      config:
        timeout: 5s
        script: |
          interface D { doubled: number; n: number }
          const d = inputs() as D;
          Wfe.setOutput("summary", { plus_one: d.doubled + 1, seen: Object.keys(d).sort() });
"""

FAILING = """
workflow:
  id: js-failing
  version: 1
  error_behavior:
    type: terminate
  steps:
    - name: boom
      type: deno
      config:
        script: |
          const x = 1;
          throw new Error("no good " + x);
"""


@pytest.fixture
async def host() -> AsyncIterator[WorkflowHost]:
    built = WorkflowHostBuilder().build()
    for text in (PIPELINE, FAILING):
        for workflow in load_workflow_from_str(text):
            built.register_workflow(workflow)
    await built.start()
    yield built
    await built.stop()
    await default_pool().close()


async def test_outputs_flow_between_javascript_steps(host: WorkflowHost) -> None:
    instance = await host.wait_for_workflow(
        await host.start_workflow("js-pipeline", 1, {"n": 20}), timeout=30
    )
    assert instance.status.value == "Complete"
    assert instance.data == {"n": 20, "doubled": 40, "summary": {"plus_one": 41, "seen": ["doubled", "n"]}}


async def test_script_error_fails_the_step(host: WorkflowHost) -> None:
    workflow_id = await host.start_workflow("js-failing", 1, {})
    instance = await host.wait_for_workflow(workflow_id, timeout=30)
    assert instance.status.value == "Terminated"
    messages = [error.message for error in await host.get_errors(workflow_id)]
    assert any("no good 1" in m and "line 2" in m for m in messages), messages
