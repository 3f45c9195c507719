"""A failing step speaks: one log record per failure on ``wfe.steps``, an ExecutionError that names the step and
carries the traceback, a TimeoutError that says what the workflow is doing, and ``wfe show`` showing it all."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfe import (
    ErrorBehavior,
    PointerStatus,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowDefinition,
    WorkflowHost,
    WorkflowHostBuilder,
    WorkflowStatus,
)
from wfe.cli import cli
from wfe_core.errors import DefinitionError

from .payments import Payment, charge_card, charge_twice, until

FAST = timedelta(milliseconds=20)
LATER = timedelta(hours=1)


def refund(ctx: StepExecutionContext) -> None:
    ctx.data.refunded = True


def charging(
    definition_id: str, behavior: ErrorBehavior, fn: Callable[[StepExecutionContext], None] = charge_card
) -> WorkflowDefinition:
    """A workflow of one step, 'Charge' (id 0), that runs ``fn`` on a ``Payment``; its errors meet ``behavior``."""
    return WorkflowBuilder(Payment).then_fn(fn, name="Charge").on_error(behavior).build(definition_id, 1)


def failures(caplog: pytest.LogCaptureFixture, workflow_id: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "wfe.steps" and getattr(r, "workflow_id", None) == workflow_id
    ]


# -- the log records -------------------------------------------------------------------------------------------


async def test_each_failure_is_one_record_warning_while_retried_then_error(make_host, caplog):
    caplog.set_level(logging.DEBUG, logger="wfe")
    definition = charging("pay-retry", ErrorBehavior.retry(interval=FAST, max_retries=2))
    host = await make_host(definition)
    wid = await host.start_workflow("pay-retry", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20, statuses=[WorkflowStatus.SUSPENDED])
    records = failures(caplog, wid)
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert [r.attempt for r in records] == [1, 2, 3]  # type: ignore[attr-defined]
    assert [r.will_retry for r in records] == [True, True, False]  # type: ignore[attr-defined]
    for record in records:
        assert record.definition_id == "pay-retry" and record.version == 1  # type: ignore[attr-defined]
        assert record.step_name == "Charge" and record.step_id == 0  # type: ignore[attr-defined]
        assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        text = record.getMessage()
        assert f"step 'Charge' (id 0) of workflow {wid} (pay-retry v1)" in text
        assert "RuntimeError: payment gateway returned 502" in text
    assert "retrying it at" in records[0].getMessage() and "(retry 1 of 2)" in records[0].getMessage()
    assert "retries exhausted; the workflow is suspended" in records[2].getMessage()
    # the traceback is in the formatted record
    formatted = logging.Formatter().format(records[2])
    assert "Traceback (most recent call last)" in formatted and "in charge_card" in formatted


async def test_a_failure_retried_into_success_is_one_warning(make_host, caplog):
    caplog.set_level(logging.DEBUG, logger="wfe")
    definition = charging("pay-once-more", ErrorBehavior.retry(interval=FAST, max_retries=3), charge_twice)
    host = await make_host(definition)
    wid = await host.start_workflow("pay-once-more", 1, Payment())
    done = await host.wait_for_workflow(wid, timeout=20)
    assert done.status is WorkflowStatus.COMPLETE
    assert [r.levelno for r in failures(caplog, wid)] == [logging.WARNING]


@pytest.mark.parametrize(
    ("behavior", "status", "outcome"),
    [
        (ErrorBehavior.terminate(), WorkflowStatus.TERMINATED, "the workflow is terminated"),
        (ErrorBehavior.suspend(), WorkflowStatus.SUSPENDED, "the workflow is suspended"),
    ],
)
async def test_a_failure_that_ends_or_stops_the_workflow_is_one_error(
    make_host, caplog, behavior, status, outcome
):
    caplog.set_level(logging.DEBUG, logger="wfe")
    definition = charging("pay-end", behavior)
    host = await make_host(definition)
    wid = await host.start_workflow("pay-end", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20, statuses=[status])
    [record] = failures(caplog, wid)
    assert record.levelno == logging.ERROR
    assert outcome in record.getMessage()


async def test_a_compensated_failure_is_one_error(make_host, caplog):
    caplog.set_level(logging.DEBUG, logger="wfe")
    definition = (
        WorkflowBuilder(Payment)
        .then_fn(charge_card, name="Charge")
        .compensate_with(refund)
        .build("pay-compensate", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("pay-compensate", 1, Payment())
    done = await host.wait_for_workflow(wid, timeout=20)
    assert done.data.refunded is True
    [record] = failures(caplog, wid)
    assert record.levelno == logging.ERROR
    assert "compensating" in record.getMessage()


async def test_a_failure_inside_a_saga_that_retries_is_a_warning_naming_the_saga(make_host, caplog):
    caplog.set_level(logging.DEBUG, logger="wfe")
    definition = (
        WorkflowBuilder(Payment)
        .saga(lambda s: s.then_fn(charge_twice, name="Charge").compensate_with(refund))
        .name("Checkout")
        .on_error(ErrorBehavior.retry(interval=FAST, max_retries=3))
        .build("pay-saga", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("pay-saga", 1, Payment())
    done = await host.wait_for_workflow(wid, timeout=20)
    assert done.status is WorkflowStatus.COMPLETE
    [record] = failures(caplog, wid)
    assert record.levelno == logging.WARNING
    assert "step 'Charge'" in record.getMessage()
    assert "retrying step 'Checkout' around it at" in record.getMessage()


# -- the stored error ----------------------------------------------------------------------------------------


async def test_the_execution_error_names_the_step_and_keeps_the_traceback(make_host):
    definition = (
        WorkflowBuilder(Payment)
        .then_fn(lambda ctx: None, name="Start")
        .then_fn(charge_card, name="Charge")
        .on_error(ErrorBehavior.terminate())
        .build("pay-record", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("pay-record", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20)
    [error] = await host.get_errors(wid)
    instance = await host.get_workflow(wid)
    failed = next(p for p in instance.execution_pointers if p.step_name == "Charge")
    assert error.execution_pointer_id == failed.id
    assert (error.step_id, error.step_name, error.exception_type) == (1, "Charge", "RuntimeError")
    assert error.message == "RuntimeError: payment gateway returned 502"
    assert error.traceback is not None
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert "in charge_card" in error.traceback
    assert error.traceback.rstrip().endswith("RuntimeError: payment gateway returned 502")


async def test_the_exception_type_of_a_non_builtin_is_qualified(make_host):
    class GatewayDown(Exception):
        pass

    def fail(ctx: StepExecutionContext) -> None:
        raise GatewayDown("502")

    definition = charging("pay-q", ErrorBehavior.terminate(), fail)
    host = await make_host(definition)
    wid = await host.start_workflow("pay-q", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20)
    [error] = await host.get_errors(wid)
    assert (
        error.exception_type
        == f"{__name__}.test_the_exception_type_of_a_non_builtin_is_qualified.<locals>.GatewayDown"
    )
    assert error.message == "GatewayDown: 502"


async def test_the_workflow_error_event_names_the_step_and_says_what_failed(make_host):
    seen: list[Any] = []
    definition = charging("pay-e", ErrorBehavior.terminate())
    host = await make_host(definition)
    host.on_lifecycle_event(seen.append)
    wid = await host.start_workflow("pay-e", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20)
    [event] = await until(lambda: _async([e for e in seen if e.kind == "WorkflowError"]))
    assert (event.step_name, event.step_id) == ("Charge", 0)
    assert event.message == "RuntimeError: payment gateway returned 502"


async def _async(value: Any) -> Any:
    return value


# -- what wait_for_workflow's TimeoutError says ------------------------------------------------------------------


async def _pointer_in(host: WorkflowHost, wid: str, status: PointerStatus) -> bool:
    instance = await host.get_workflow(wid)
    return any(p.status is status for p in instance.execution_pointers)


async def test_timeout_says_the_workflow_waits_for_an_event(make_host):
    definition = WorkflowBuilder(Payment).wait_for("shipped", "order-7").build("wait-event", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("wait-event", 1, Payment())
    await until(lambda: _pointer_in(host, wid, PointerStatus.WAITING_FOR_EVENT))
    with pytest.raises(TimeoutError) as caught:
        await host.wait_for_workflow(wid, timeout=0.1)
    message = str(caught.value)
    assert f"workflow {wid} (wait-event v1) is not Complete or Terminated after 0.1s" in message
    assert "waiting for event shipped/order-7 in step 'wait_for:shipped'" in message


async def test_timeout_says_the_workflow_sleeps_until_when(make_host):
    definition = WorkflowBuilder(Payment).delay(LATER).build("sleep-long", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("sleep-long", 1, Payment())
    await until(lambda: _pointer_in(host, wid, PointerStatus.SLEEPING))
    instance = await host.get_workflow(wid)
    sleeping = next(p for p in instance.execution_pointers if p.status is PointerStatus.SLEEPING)
    assert sleeping.sleep_until is not None
    with pytest.raises(TimeoutError) as caught:
        await host.wait_for_workflow(wid, timeout=0.1)
    assert f"sleeping until {sleeping.sleep_until.isoformat(timespec='milliseconds')} in step 'delay'" in str(
        caught.value
    )


async def test_timeout_says_which_step_is_retried_after_which_error(make_host):
    definition = charging("retry-later", ErrorBehavior.retry(interval=LATER, max_retries=5))
    host = await make_host(definition)
    wid = await host.start_workflow("retry-later", 1, Payment())
    await until(lambda: host.get_errors(wid))
    with pytest.raises(TimeoutError) as caught:
        await host.wait_for_workflow(wid, timeout=0.1)
    message = str(caught.value)
    assert "it is retrying step 'Charge' after RuntimeError: payment gateway returned 502" in message
    assert "(next attempt at " in message


async def test_timeout_says_the_workflow_is_suspended_after_which_error(make_host):
    definition = charging("susp", ErrorBehavior.suspend())
    host = await make_host(definition)
    wid = await host.start_workflow("susp", 1, Payment())
    await host.wait_for_workflow(wid, timeout=20, statuses=[WorkflowStatus.SUSPENDED])
    with pytest.raises(TimeoutError) as caught:
        await host.wait_for_workflow(wid, timeout=0.1)
    assert "it is suspended after RuntimeError: payment gateway returned 502 in step 'Charge'" in str(
        caught.value
    )


def test_the_sync_facade_timeout_says_what_the_workflow_waits_for():
    host = WorkflowHostBuilder().build()
    host.register_workflow(WorkflowBuilder(Payment).wait_for("approved", "k1").build("sync-wait", 1))
    with pytest.raises(TimeoutError, match=r"waiting for event approved/k1"):
        host.run_sync("sync-wait", Payment(), timeout=timedelta(milliseconds=500))


# -- wfe show ------------------------------------------------------------------------------------------------


def test_wfe_show_gives_the_failed_step_the_exception_and_the_traceback(tmp_path: Path, monkeypatch) -> None:
    store = f"sqlite:///{tmp_path}/shop.db"

    async def fail_one() -> str:
        host = WorkflowHostBuilder().use_persistence(store).build()
        host.register_workflow(charging("shop", ErrorBehavior.terminate()))
        async with host:
            wid = await host.start_workflow("shop", 1, Payment())
            await host.wait_for_workflow(wid, timeout=20)
            return wid

    wid = asyncio.run(fail_one())
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", wid, "--db", store, "--json"])
    assert shown.exit_code == 0, shown.output
    [error] = json.loads(shown.output)["errors"]
    assert error["step"] == "Charge" and error["step_id"] == 0
    assert error["exception_type"] == "RuntimeError"
    assert error["message"] == "RuntimeError: payment gateway returned 502"
    assert "in charge_card" in error["traceback"]

    text = runner.invoke(cli, ["show", wid, "--db", store])
    assert text.exit_code == 0, text.output
    assert "error: step 'Charge' (attempt 1): RuntimeError: payment gateway returned 502" in text.output
    assert "Traceback (most recent call last):" in text.output and "in charge_card" in text.output


FAILING_PIPELINE = """
workflow:
  id: failing
  version: 1
  steps:
    - name: boom
      type: shell
      config:
        run: echo about to fail; exit 3
"""


def test_wfe_run_shows_a_step_failure_once_not_the_log_record_too(tmp_path: Path) -> None:
    (tmp_path / "failing.yaml").write_text(FAILING_PIPELINE)
    result = subprocess.run(
        [sys.executable, "-c", "from wfe.cli import main; main()", "run", "failing.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert (
        "error: step 'boom' (attempt 1): ShellCommandError: Shell command exited with code 3" in result.stdout
    )
    assert "wfe.steps" not in result.stderr and "Traceback" not in result.stderr + result.stdout


# -- build() refuses inline steps it could not call ---------------------------------------------------------------


def takes_nothing() -> None:
    pass


def takes_two(ctx: StepExecutionContext, extra: int) -> None:
    pass


def test_build_refuses_an_inline_step_without_the_context_argument():
    builder = WorkflowBuilder().then_fn(lambda ctx: None, name="Fine").then_fn(lambda: None, name="Nap")
    with pytest.raises(DefinitionError) as caught:
        builder.build("refused", 1)
    message = str(caught.value)
    assert "step 'Nap' (step 1) of workflow 'refused'" in message
    assert "cannot be called as fn(ctx)" in message and "lambda ctx: ..." in message


@pytest.mark.parametrize("fn", [takes_nothing, takes_two, lambda a, b: None])
def test_build_refuses_inline_steps_of_other_signatures(fn: Any):
    with pytest.raises(DefinitionError, match=r"cannot be called as fn\(ctx\)"):
        WorkflowBuilder().then_fn(fn).build("refused", 1)


def test_build_refuses_an_inline_compensation_without_the_context_argument():
    builder = WorkflowBuilder().then_fn(lambda ctx: None, name="Charge").compensate_with(takes_two)
    with pytest.raises(DefinitionError, match=r"step 'takes_two' .* cannot be called as fn\(ctx\)"):
        builder.build("refused", 1)


def test_build_refuses_a_function_of_the_context_given_to_then():
    def charge(ctx: StepExecutionContext) -> None:
        pass

    with pytest.raises(
        DefinitionError, match=r"step 'charge' .*add it with then_fn\(\.\.\.\) instead of then"
    ):
        WorkflowBuilder().then(charge).build("refused", 1)


def test_build_refuses_a_step_class_given_as_a_function():
    class Charge(StepBody):
        async def run(self, ctx: StepExecutionContext) -> None:
            pass

    with pytest.raises(
        DefinitionError, match=r"step class Charge given as a function: add it with then\(Charge\)"
    ):
        WorkflowBuilder().then_fn(Charge).build("refused", 1)  # type: ignore[arg-type]


def test_build_accepts_every_callable_that_takes_the_context():
    class Callable1:
        def __call__(self, ctx: StepExecutionContext) -> None:
            pass

    class Holder:
        def method(self, ctx: StepExecutionContext) -> None:
            pass

    async def coroutine(ctx: StepExecutionContext) -> None:
        pass

    def with_default(ctx: StepExecutionContext, extra: int = 1) -> None:
        pass

    def anything(*args: Any) -> None:
        pass

    (
        WorkflowBuilder()
        .then_fn(lambda ctx: None)
        .then_fn(coroutine)
        .then_fn(with_default)
        .then_fn(anything)
        .then_fn(Callable1())
        .then_fn(Holder().method)
        .then_fn(functools.partial(takes_two, extra=1))
        .then_fn(print)
        .compensate_with(lambda ctx: None)
        .then(lambda: _Noop())
        .build("accepted", 1)
    )


class _Noop(StepBody):
    async def run(self, ctx: StepExecutionContext) -> None:
        pass
