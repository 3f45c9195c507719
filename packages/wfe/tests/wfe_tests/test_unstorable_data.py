"""Data that cannot be written as JSON (an instance of a class of one's own) is refused naming its key path and
the fix: by ``start_workflow``/``publish_event`` at once, and as a failure of the step that left it in the
workflow's data or its output. The SQLite and PostgreSQL stores, which write JSON."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from wfe import (
    ErrorBehavior,
    ExecutionResult,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowDataError,
    WorkflowStatus,
)
from wfe_core.errors import UnstorableDataError
from wfe_core.storable import unstorable
from wfe_tests.conftest import HostFactory, started_hosts

FIX = "make it JSON-compatible: dict, list, str, number, bool, None, or a pydantic model"


class Weird:
    """Not JSON: no encoder knows it."""


class Order(BaseModel):
    owner: Any = None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def json_host(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HostFactory]:
    """``host = await json_host(*definitions)``: a started host on a store that writes JSON, stopped after."""
    async with started_hosts(request.param, tmp_path) as factory:
        yield functools.partial(factory, poll_interval=timedelta(milliseconds=200))


def test_the_key_path_of_the_first_value_that_is_not_json():
    data = {"items": [1, "two", {"owner": Weird()}], "ok": None}
    error = unstorable(data)
    assert isinstance(error, UnstorableDataError) and isinstance(error, WorkflowDataError)
    assert error.path == "data.items[2].owner"
    assert error.value_type is Weird
    assert (
        str(error) == f"data.items[2].owner holds a {__name__}.Weird, which cannot be stored as JSON: {FIX}"
    )


def test_a_key_that_is_not_json_and_values_inside_sets():
    assert unstorable({"a": {frozenset([1]): 2}}).path == "data.a key frozenset({1})"  # type: ignore[union-attr]
    assert unstorable({"tags": {Weird()}}).path == "data.tags[0]"  # type: ignore[union-attr]


def test_keys_that_are_not_names_models_and_json_values():
    assert unstorable({"a key": [Order(owner={"x": Weird})]}).path == "data['a key'][0].owner.x"  # type: ignore[union-attr]
    assert unstorable({"when": [1.5, True, None, "x"], "m": Order(owner=[1])}) is None


async def test_start_workflow_refuses_data_that_is_not_json(json_host):
    host = await json_host(WorkflowBuilder().then_fn(lambda ctx: None, name="noop").build("plain", 1))
    with pytest.raises(WorkflowDataError, match=r"^data\.items\[2\]\.owner holds a .*Weird.*" + FIX):
        await host.start_workflow("plain", 1, {"items": [1, 2, {"owner": Weird()}]})


async def test_publish_event_refuses_data_that_is_not_json(json_host):
    host = await json_host()
    with pytest.raises(WorkflowDataError, match=r"^data\.receipt holds a .*Weird"):
        await host.publish_event("paid", "order-1", {"receipt": Weird()})


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ("data", "data.owner"),
        ("outcome", "step 'leave'.outcome.receipt"),
    ],
)
async def test_a_step_leaving_a_value_that_is_not_json_fails_naming_it(json_host, step, path):
    runs: list[int] = []

    def leave(ctx: StepExecutionContext) -> ExecutionResult | None:
        runs.append(1)
        if step == "data":
            ctx.data["owner"] = Weird()
            return None
        return ExecutionResult.outcome({"receipt": Weird()})

    retry = ErrorBehavior.retry(timedelta(milliseconds=20), max_retries=1)
    definition = WorkflowBuilder().then_fn(leave, name="leave").on_error(retry).build("leaves", 1)
    host = await json_host(definition)
    workflow_id = await host.start_workflow("leaves", 1, {})
    done = await host.wait_for_workflow(
        workflow_id, timeout=20, statuses=[WorkflowStatus.COMPLETE, WorkflowStatus.SUSPENDED]
    )
    assert done.status is WorkflowStatus.SUSPENDED
    assert len(runs) == 2
    errors = await host.get_errors(workflow_id)
    assert len(errors) == 2
    for error in errors:
        assert "WorkflowDataError" in error.message and "step 'leave'" in error.message, error.message
        assert f"{path} holds a {__name__}.Weird" in error.message and FIX in error.message, error.message
