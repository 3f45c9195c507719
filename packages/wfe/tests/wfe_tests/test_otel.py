"""OpenTelemetry: a span per pass, a child span per step execution, errors recorded."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from wfe import ErrorBehavior, StepExecutionContext, WorkflowBuilder, WorkflowStatus


async def test_span_tree_of_a_parallel_workflow_with_a_retried_step(make_host):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    attempts = {"n": 0}

    def flaky(ctx: StepExecutionContext) -> None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise ConnectionError("first try fails")

    flaky.__name__ = "flaky"
    definition = (
        WorkflowBuilder()
        .parallel()
        .do(lambda b: b.then_fn(flaky).on_error(ErrorBehavior.retry(timedelta(milliseconds=20), 2)))
        .do(lambda b: b.then_fn(lambda ctx: None, name="steady"))
        .join()
        .build("traced", 1)
    )
    host = await make_host(definition, configure=lambda b: b.use_opentelemetry(provider))
    wid = await host.start_workflow("traced", reference="r-1")
    assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE

    spans = exporter.get_finished_spans()
    passes = [s for s in spans if s.name.startswith("wfe.pass")]
    steps = [s for s in spans if s.name.startswith("wfe.step")]
    assert passes and all(s.parent is None for s in passes)
    pass_ids = {s.context.span_id for s in passes}
    assert steps and all(s.parent is not None and s.parent.span_id in pass_ids for s in steps)
    assert all(s.attributes["wfe.workflow.id"] == wid for s in spans)
    assert all(s.attributes["wfe.workflow.definition_id"] == "traced" for s in spans)
    assert all(s.attributes["wfe.workflow.reference"] == "r-1" for s in passes)

    flaky_runs = sorted(
        (s for s in steps if s.attributes["wfe.step.name"] == "flaky"), key=lambda s: s.start_time
    )
    assert [s.attributes["wfe.pointer.retry_count"] for s in flaky_runs] == [0, 1]
    failed, retried = flaky_runs
    assert failed.status.status_code is StatusCode.ERROR
    assert any(e.name == "exception" and "first try fails" in str(e.attributes) for e in failed.events)
    assert retried.status.status_code is not StatusCode.ERROR
    assert retried.attributes["wfe.step.outcome"] == "next"
    assert failed.attributes["wfe.pointer.id"] == retried.attributes["wfe.pointer.id"]

    steady = [s for s in steps if s.attributes["wfe.step.name"] == "steady"]
    flaky_first_pass = failed.parent.span_id
    assert steady and steady[0].parent.span_id == flaky_first_pass, "parallel branches run in the same pass"
    container = [s for s in steps if s.attributes["wfe.step.name"] == "parallel"]
    assert container and container[0].attributes["wfe.step.outcome"] == "branch"
