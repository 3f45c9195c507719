"""The instance the host returns carries its failure records (``instance.errors``), read from the store's errors
when it is read: never written with the instance, and never read by the engine's own passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from wfe import (
    ErrorBehavior,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
    WorkflowStatus,
)
from wfe_core.models import ExecutionError

from .payments import Payment, charge_card, charge_twice, until

FAST = timedelta(milliseconds=20)
FAILURE = "RuntimeError: payment gateway returned 502"


def retried(fn: Callable[[StepExecutionContext], None], definition_id: str, max_retries: int = 3) -> Any:
    return (
        WorkflowBuilder(Payment)
        .then_fn(lambda ctx: None, name="Start")
        .then_fn(fn, name="Charge")
        .on_error(ErrorBehavior.retry(interval=FAST, max_retries=max_retries))
        .build(definition_id, 1)
    )


def count_error_reads(host: WorkflowHost, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids whose errors are read from the host's store from now on (the store itself answers)."""
    reads: list[str] = []
    read = host.persistence.get_errors

    async def counted(workflow_id: str) -> list[ExecutionError]:
        reads.append(workflow_id)
        return await read(workflow_id)

    monkeypatch.setattr(host.persistence, "get_errors", counted)
    return reads


async def until_indexed(host: WorkflowHost, wid: str) -> None:
    """Until the search index has the completed instance (its last pass and its indexing are done)."""
    await until(lambda: _indexed_complete(host, wid))


async def _indexed_complete(host: WorkflowHost, wid: str) -> bool:
    page = await host.search()
    return any(r.id == wid and r.status is WorkflowStatus.COMPLETE for r in page.data)


async def test_get_workflow_carries_the_failure_records(make_host):
    host = await make_host(retried(charge_twice, "rec-get"))
    wid = await host.start_workflow("rec-get", 1, Payment())
    done = await host.wait_for_workflow(wid, timeout=20)
    assert done.status is WorkflowStatus.COMPLETE
    instance = await host.get_workflow(wid)
    [error] = instance.errors
    failed = next(p for p in instance.execution_pointers if p.step_name == "Charge")
    assert (error.workflow_id, error.execution_pointer_id) == (wid, failed.id)
    assert (error.step_id, error.step_name, error.exception_type, error.message) == (
        1,
        "Charge",
        "RuntimeError",
        FAILURE,
    )
    assert error.traceback is not None and "in charge_twice" in error.traceback
    assert error.traceback.rstrip().endswith(FAILURE)
    assert instance.errors == await host.get_errors(wid)
    assert isinstance(instance.data, Payment) and instance.data.attempts == 2
    assert (await host.get_workflow(instance.name)).errors == instance.errors


async def test_wait_for_workflow_returns_the_failure_records_oldest_first(make_host):
    host = await make_host(retried(charge_card, "rec-wait", max_retries=2))
    wid = await host.start_workflow("rec-wait", 1, Payment())
    instance = await host.wait_for_workflow(wid, timeout=20, statuses=[WorkflowStatus.SUSPENDED])
    assert [(e.step_name, e.message) for e in instance.errors] == [("Charge", FAILURE)] * 3
    times = [e.error_time for e in instance.errors]
    assert times == sorted(times)
    assert instance.errors == await host.get_errors(wid)


async def test_an_instance_without_failures_has_no_errors(make_host):
    host = await make_host(retried(lambda ctx: None, "rec-none"))
    wid = await host.start_workflow("rec-none", 1, Payment())
    assert (await host.wait_for_workflow(wid, timeout=20)).errors == []
    assert (await host.get_workflow(wid)).errors == []


async def test_the_errors_are_stored_once_not_with_the_instance(make_host):
    host = await make_host(retried(charge_twice, "rec-once"))
    wid = await host.start_workflow("rec-once", 1, Payment())
    read = await host.wait_for_workflow(wid, timeout=20)
    assert len(read.errors) == 1
    await host.persistence.persist_workflow(read)  # an instance read with its errors, written back
    assert (await host.persistence.get_workflow(wid)).errors == []
    assert (await host.get_workflow(wid)).errors == read.errors


async def test_the_engine_reads_errors_only_for_the_callers_of_the_reading_verbs(make_host, monkeypatch):
    host = await make_host(
        retried(charge_twice, "rec-hot"), configure=lambda b: b.use_search_index("memory://")
    )
    reads = count_error_reads(host, monkeypatch)
    wid = await host.start_workflow("rec-hot", 1, Payment())
    await until_indexed(host, wid)
    assert reads == []  # the passes, the retry and the indexing read none
    instance = await host.wait_for_workflow(wid, timeout=20)
    assert reads == [wid] and len(instance.errors) == 1
    await host.get_workflow(wid)
    assert reads == [wid, wid]


def test_the_sync_facade_returns_the_failure_records():
    host = WorkflowHostBuilder().build()
    host.register_workflow(
        WorkflowBuilder(Payment)
        .then_fn(charge_card, name="Charge")
        .on_error(ErrorBehavior.terminate())
        .build("rec-sync", 1)
    )
    instance = host.run_sync("rec-sync", Payment(), timeout=timedelta(seconds=20))
    assert instance.status is WorkflowStatus.TERMINATED
    assert [(e.step_name, e.exception_type, e.message) for e in instance.errors] == [
        ("Charge", "RuntimeError", FAILURE)
    ]
