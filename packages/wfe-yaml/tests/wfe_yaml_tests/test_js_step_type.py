"""JavaScript steps run as workflow steps: data in, outputs and logs out, timeouts and cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from wfe_core.definition import WorkflowDefinition, WorkflowStep
from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_core.step import LogChunk, StepExecutionContext
from wfe_yaml.js import JsPool, JsScriptError, JsStep, JsStepType, JsTimeoutError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


class Sink:
    def __init__(self) -> None:
        self.chunks: list[LogChunk] = []

    def write(self, chunk: LogChunk) -> None:
        self.chunks.append(chunk)


def context(body: JsStep, data: Any, sink: Sink | None = None) -> StepExecutionContext:
    step = WorkflowStep(id=0, factory=lambda: body, name="js-step")
    definition = WorkflowDefinition(id="wf", version=1, steps=[step])
    instance = WorkflowInstance(
        id="wf-instance", workflow_definition_id="wf", version=1, create_time=datetime.now(UTC), data=data
    )
    pointer = ExecutionPointer(step_id=0, step_name="js-step")
    return StepExecutionContext(
        workflow=instance, step=step, pointer=pointer, definition=definition, log_sink=sink
    )


async def test_step_runs_with_workflow_data_and_sets_outputs(pool: JsPool) -> None:
    body = JsStepType(pool=pool).create(
        {"script": "const d = inputs(); console.log('got', d.n); log('note'); output('doubled', d.n * 2);"},
        step_name="js-step",
        workflow_id="wf",
    )
    assert isinstance(body, JsStep)
    sink = Sink()
    result = await body.run(context(body, {"n": 21, "nested": {"a": [1]}}, sink))
    assert result.proceed
    assert body.outputs == {"doubled": 42}
    assert [(c.stream, c.text, c.step_name, c.workflow_id) for c in sink.chunks] == [
        ("stdout", "got 21", "js-step", "wf-instance"),
        ("log", "note", "js-step", "wf-instance"),
    ]


async def test_step_with_pydantic_data(pool: JsPool) -> None:
    from pydantic import BaseModel

    class Order(BaseModel):
        id: int
        when: datetime

    body = JsStepType(pool=pool).create({"script": "output('o', inputs())"}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    await body.run(context(body, Order(id=3, when=datetime(2024, 1, 2, tzinfo=UTC))))
    assert body.outputs == {"o": {"id": 3, "when": "2024-01-02T00:00:00Z"}}


async def test_step_without_outputs_has_empty_outputs(pool: JsPool) -> None:
    body = JsStepType(pool=pool).create({"script": "1 + 1"}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    await body.run(context(body, {}))
    assert body.outputs == {}


async def test_step_from_file(pool: JsPool, tmp_path: Path) -> None:
    script = tmp_path / "step.ts"
    script.write_text("const n: number = inputs().n;\noutput('n', n + 1);\n", encoding="utf-8")
    body = JsStepType(pool=pool).create({"file": str(script)}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    await body.run(context(body, {"n": 1}))
    assert body.outputs == {"n": 2}


async def test_step_error_names_the_file_and_line(pool: JsPool, tmp_path: Path) -> None:
    script = tmp_path / "broken.js"
    script.write_text("\n\nthrow new Error('nope');\n", encoding="utf-8")
    body = JsStepType(pool=pool).create({"file": str(script)}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    with pytest.raises(JsScriptError, match=r"Error: nope \(at broken.js line 3\)"):
        await body.run(context(body, {}))


async def test_missing_script_file_fails_the_step(pool: JsPool, tmp_path: Path) -> None:
    body = JsStepType(pool=pool).create({"file": str(tmp_path / "gone.js")}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    with pytest.raises(JsScriptError, match="cannot read script file"):
        await body.run(context(body, {}))


async def test_step_timeout_from_config(pool: JsPool) -> None:
    body = JsStepType(pool=pool).create(
        {"script": "while (true) {}", "timeout": "300ms"}, step_name="s", workflow_id="wf"
    )
    assert isinstance(body, JsStep)
    with pytest.raises(JsTimeoutError, match="timed out after 0.3s"):
        await body.run(context(body, {}))


async def test_step_cancellation_stops_the_script(pool: JsPool) -> None:
    import asyncio

    body = JsStepType(pool=pool).create(
        {"script": "while (true) {}", "timeout": "30s"}, step_name="s", workflow_id="wf"
    )
    assert isinstance(body, JsStep)
    ctx = context(body, {})
    asyncio.get_running_loop().call_later(0.3, ctx.cancellation.cancel)
    with pytest.raises(Exception, match="cancelled"):
        await body.run(ctx)


async def test_default_pool_is_used_without_one() -> None:
    from wfe_yaml.js import default_pool

    body = JsStepType().create({"script": "output('ok', true)"}, step_name="s", workflow_id="wf")
    assert isinstance(body, JsStep)
    await body.run(context(body, {}))
    assert body.outputs == {"ok": True}
    await default_pool().close()
