"""Activities: external workers lease a task, submit results or failures; an expired lease is offered again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel

from wfe import ErrorBehavior, WorkflowBuilder, WorkflowStatus


class Job(BaseModel):
    size: int = 0
    result: object = None


def definition(retry: bool = False):
    builder = (
        WorkflowBuilder(Job)
        .activity("resize", lambda data, ctx: {"size": data.size})
        .output("result", lambda step: step.result)
    )
    if retry:
        builder = builder.on_error(ErrorBehavior.retry(interval=timedelta(milliseconds=20), max_retries=1))
    return builder.build("job", 2 if retry else 1)


async def test_worker_takes_the_activity_and_its_result_becomes_step_result(make_host):
    host = await make_host(definition())
    wid = await host.start_workflow("job", 1, Job(size=3))
    pending = await host.get_pending_activity("resize", "worker-1", timeout=timedelta(seconds=5))
    assert pending is not None
    assert pending.activity_name == "resize" and pending.parameters == {"size": 3}
    assert await host.get_pending_activity("resize", "worker-2") is None, (
        "a leased activity is not offered twice"
    )
    await host.submit_activity_success(pending.token, {"url": "s3://x"})
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.data.result == {"url": "s3://x"}


async def test_expired_lease_is_offered_to_another_worker(make_host):
    host = await make_host(definition(), activity_lease=timedelta(milliseconds=300))
    wid = await host.start_workflow("job", 1, Job(size=1))
    first = await host.get_pending_activity("resize", "dead-worker", timeout=timedelta(seconds=5))
    assert first is not None
    assert await host.get_pending_activity("resize", "w2") is None
    await asyncio.sleep(0.4)
    second = await host.get_pending_activity("resize", "w2", timeout=timedelta(seconds=2))
    assert second is not None and second.token != first.token
    try:
        await host.submit_activity_success(first.token, "stale")
        raise AssertionError("a lapsed token must be refused once another worker holds the activity")
    except Exception as exc:
        assert "token" in str(exc)
    await host.submit_activity_success(second.token, "fresh")
    assert (await host.wait_for_workflow(wid, timeout=5)).data.result == "fresh"


async def test_failure_goes_through_error_handling_and_a_retry_waits_for_a_new_result(make_host):
    host = await make_host(definition(retry=True))
    wid = await host.start_workflow("job", 2, Job(size=1))
    pending = await host.get_pending_activity("resize", "w", timeout=timedelta(seconds=5))
    assert pending is not None
    await host.submit_activity_failure(pending.token, "disk full")
    again = await host.get_pending_activity("resize", "w", timeout=timedelta(seconds=5))
    assert again is not None
    errors = await host.get_errors(wid)
    assert any("disk full" in e.message for e in errors)
    await host.submit_activity_success(again.token, "ok")
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE and done.data.result == "ok"
