"""Data a store cannot hold is refused by start_workflow and publish_event, naming where and the fix, before
anything is stored: lone surrogates, and nesting deeper than the limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wfe import WorkflowBuilder, WorkflowDataError, WorkflowStatus
from wfe_core.data_limits import MAX_DATA_DEPTH


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


def definition() -> Any:
    return WorkflowBuilder().then_fn(lambda ctx: None).build("plain", 1)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"title": "ok \ud800 broken"}, "data['title']"),
        ({"items": ["fine", "\udcff"]}, "data['items'][1]"),
        ({"bad \udc80 key": 1}, "a key of workflow data at data"),
    ],
)
async def test_a_lone_surrogate_is_refused_with_its_location(make_host, data: Any, where: str) -> None:
    host = await make_host(definition())
    with pytest.raises(WorkflowDataError, match="lone surrogate") as caught:
        await host.start_workflow("plain", 1, data)
    assert where in str(caught.value) and "errors='replace'" in str(caught.value)
    assert await host.persistence.list_workflows(take=10) == []


async def test_data_nested_five_thousand_deep_is_refused(make_host) -> None:
    host = await make_host(definition())
    with pytest.raises(WorkflowDataError, match=f"deeper than {MAX_DATA_DEPTH} levels.*one JSON string"):
        await host.start_workflow("plain", 1, nested(5000))
    assert await host.persistence.list_workflows(take=10) == []


async def test_data_at_the_depth_limit_runs(make_host) -> None:
    host = await make_host(definition())
    wid = await host.start_workflow("plain", 1, nested(MAX_DATA_DEPTH))
    done = await host.wait_for_workflow(wid, timeout=timedelta(seconds=10))
    assert done.status is WorkflowStatus.COMPLETE
    with pytest.raises(WorkflowDataError):
        await host.start_workflow("plain", 1, nested(MAX_DATA_DEPTH + 1))


async def test_event_data_is_checked_too(make_host) -> None:
    host = await make_host(definition())
    with pytest.raises(WorkflowDataError, match="event data at data\\['x'\\]"):
        await host.publish_event("approved", "k", {"x": "\ud83d"})
