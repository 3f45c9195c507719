"""OpenTelemetry tracing (``wfe[otel]``): a span per pass and a child span per step execution."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from wfe_core.errors import MissingExtraError
from wfe_core.executor.executor import StepCall, StepResult
from wfe_core.models import WorkflowInstance
from wfe_core.step import StepBody, StepExecutionContext

try:
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # pragma: no cover - exercised only without the extra
    trace = None  # type: ignore[assignment]


class Tracing:
    """Creates the spans. ``tracer_provider`` defaults to the global one."""

    def __init__(self, tracer_provider: Any = None) -> None:
        if trace is None:
            raise MissingExtraError("OpenTelemetry tracing", extra="otel", package="opentelemetry-api")
        self.tracer = trace.get_tracer("wfe", tracer_provider=tracer_provider)

    @contextlib.contextmanager
    def pass_span(self, instance: WorkflowInstance) -> Iterator[Any]:
        """The span of one pass; step spans started inside it (also in tasks it creates) are its children."""
        attributes: dict[str, Any] = {
            "wfe.workflow.id": instance.id,
            "wfe.workflow.name": instance.name,
            "wfe.workflow.definition_id": instance.workflow_definition_id,
            "wfe.workflow.version": instance.version,
        }
        if instance.reference:
            attributes["wfe.workflow.reference"] = instance.reference
        with self.tracer.start_as_current_span(
            f"wfe.pass {instance.workflow_definition_id}", attributes=attributes
        ) as span:
            yield span
            span.set_attribute("wfe.workflow.status", instance.status.value)

    async def step_middleware(self, ctx: StepExecutionContext, body: StepBody, next_: StepCall) -> StepResult:
        """Step middleware: a span around one step execution, with its outcome or its error."""
        attributes: dict[str, Any] = {
            "wfe.workflow.id": ctx.workflow.id,
            "wfe.workflow.definition_id": ctx.workflow.workflow_definition_id,
            "wfe.workflow.version": ctx.workflow.version,
            "wfe.step.id": ctx.step.id,
            "wfe.step.name": ctx.step.name or "",
            "wfe.pointer.id": ctx.pointer.id,
            "wfe.pointer.retry_count": ctx.pointer.retry_count,
        }
        with self.tracer.start_as_current_span(
            f"wfe.step {ctx.step.name}",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = await next_()
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise
            if result is None or result.proceed:
                span.set_attribute(
                    "wfe.step.outcome",
                    "next" if result is None or result.outcome_value is None else str(result.outcome_value),
                )
            elif result.sleep_for is not None:
                span.set_attribute("wfe.step.outcome", "sleep")
            elif result.event_name is not None:
                span.set_attribute("wfe.step.outcome", "wait_for_event")
            elif result.branch_values is not None:
                span.set_attribute("wfe.step.outcome", "branch")
            else:
                span.set_attribute("wfe.step.outcome", "persist")
            return result
