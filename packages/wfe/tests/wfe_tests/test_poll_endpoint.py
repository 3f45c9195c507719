"""poll_endpoint: polls a local HTTP server until a condition on its response holds, sleeping durably in between;
a timeout ends in the step's error behaviour; a host restart mid-poll goes on polling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel

from wfe import (
    ErrorBehavior,
    PointerStatus,
    WorkflowBuilder,
    WorkflowHostBuilder,
    WorkflowStatus,
)
from wfe_core.errors import DefinitionError
from wfe_core.primitives import BodyContains, JsonPathCondition, PollResponse
from wfe_core.testing import ManualClock

FAST = timedelta(milliseconds=20)


class Endpoint:
    """A local HTTP server whose ``/status`` says ``starting`` until it has answered ``ready_after`` requests
    (or until ``ready`` is set), then ``ready``."""

    def __init__(self) -> None:
        self.ready_after: int | None = None
        self.ready = False
        self.status_while_starting = 200
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._request_seen = asyncio.Event()

    async def wait_for_requests(self, n: int) -> None:
        async with asyncio.timeout(10):
            while len(self.requests) < n:
                self._request_seen.clear()
                await self._request_seen.wait()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": body,
                "query": request.query_string,
            }
        )
        self._request_seen.set()
        count = len(self.requests)
        if self.ready or (self.ready_after is not None and count >= self.ready_after):
            return web.json_response({"status": "ready", "count": count, "items": [{"id": 1}, {"id": 2}]})
        return web.json_response({"status": "starting", "count": count}, status=self.status_while_starting)

    async def text(self, request: web.Request) -> web.Response:
        self.requests.append({"method": request.method})
        return web.Response(text="all systems go" if self.ready else "warming up")


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    server = Endpoint()
    app = web.Application()
    app.router.add_route("*", "/status", server.handle)
    app.router.add_get("/text", server.text)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


class Deploy(BaseModel):
    service: str = "api"
    result: Any = None
    log: list[str] = []


async def test_polls_until_a_jsonpath_condition_on_the_body_holds(make_host, endpoint):
    endpoint.ready_after = 3
    definition = (
        WorkflowBuilder(Deploy)
        .poll_endpoint(
            lambda data: f"{endpoint.url}/status?service={data.service}",
            until='$.status == "ready"',
            interval=FAST,
            timeout=timedelta(seconds=60),
        )
        .output("result", lambda step: step.response.json)
        .then_fn(lambda ctx: ctx.data.log.append("after"))
        .build("poll-json", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("poll-json", 1, Deploy()), timeout=30)
    assert done.status is WorkflowStatus.COMPLETE
    assert len(endpoint.requests) == 3
    assert {r["query"] for r in endpoint.requests} == {"service=api"}
    assert done.data.result["status"] == "ready"
    assert done.data.log == ["after"]


async def test_the_status_must_be_accepted_too(make_host, endpoint):
    endpoint.status_while_starting = 503
    endpoint.ready_after = 2
    definition = (
        WorkflowBuilder()
        .poll_endpoint(f"{endpoint.url}/status", status=200, interval=FAST, timeout=timedelta(seconds=60))
        .output("status", lambda step: step.response.status)
        .build("poll-status", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("poll-status", 1, {}), timeout=30)
    assert done.data == {"status": 200}
    assert len(endpoint.requests) == 2


async def test_posts_headers_and_a_json_body_and_takes_a_function_condition(make_host, endpoint):
    endpoint.ready_after = 2
    seen: list[PollResponse] = []

    def until(response: PollResponse) -> bool:
        seen.append(response)
        return response.json["count"] >= 2

    definition = (
        WorkflowBuilder()
        .poll_endpoint(
            f"{endpoint.url}/status",
            method="post",
            headers=lambda data: {"Authorization": f"Bearer {data['token']}"},
            body={"check": "deploy"},
            until=until,
            interval=FAST,
            timeout=timedelta(seconds=60),
        )
        .build("poll-post", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(
        await host.start_workflow("poll-post", 1, {"token": "t0"}), timeout=30
    )
    assert done.status is WorkflowStatus.COMPLETE
    assert [r["method"] for r in endpoint.requests] == ["POST", "POST"]
    assert endpoint.requests[0]["headers"]["Authorization"] == "Bearer t0"
    assert json.loads(endpoint.requests[0]["body"]) == {"check": "deploy"}
    assert [r.json["count"] for r in seen] == [1, 2]


async def test_body_contains_and_a_connection_refused_counts_as_not_yet(make_host, endpoint):
    endpoint.ready = True
    definition = (
        WorkflowBuilder()
        .poll_endpoint(
            lambda data: data["url"],
            until=BodyContains("systems go"),
            interval=FAST,
            timeout=timedelta(seconds=60),
        )
        .output("text", lambda step: step.response.text)
        .build("poll-text", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(
        await host.start_workflow("poll-text", 1, {"url": f"{endpoint.url}/text"}), timeout=30
    )
    assert done.data["text"] == "all systems go"


@pytest.mark.parametrize(
    ("behavior", "status"),
    [
        (ErrorBehavior.terminate(), WorkflowStatus.TERMINATED),
        (ErrorBehavior.suspend(), WorkflowStatus.SUSPENDED),
    ],
)
async def test_a_timeout_ends_in_the_steps_error_behaviour(make_host, endpoint, behavior, status):
    definition = (
        WorkflowBuilder(Deploy)
        .poll_endpoint(
            f"{endpoint.url}/status",
            until="$.status == 'ready'",
            interval=FAST,
            timeout=timedelta(milliseconds=200),
        )
        .on_error(behavior)
        .then_fn(lambda ctx: ctx.data.log.append("after"))
        .build("poll-timeout", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("poll-timeout", 1, Deploy())
    done = await host.wait_for_workflow(wid, timeout=30, statuses=(status,))
    assert done.data.log == []
    assert len(endpoint.requests) >= 1
    errors = [e.message for e in await host.get_errors(wid)]
    assert any("did not hold within" in m and '"starting"' in m for m in errors), errors


async def test_a_timeout_with_retry_polls_a_new_window_then_compensates(make_host, endpoint):
    clock = ManualClock()
    interval = timedelta(minutes=10)
    definition = (
        WorkflowBuilder(Deploy)
        .poll_endpoint(
            f"{endpoint.url}/status", until="$.status == 'ready'", interval=interval, timeout=interval
        )
        .on_error(ErrorBehavior.retry(timedelta(minutes=1), max_retries=1))
        .compensate_with(lambda ctx: ctx.data.log.append("rolled back"))
        .build("poll-retry", 1)
    )
    host = await make_host(definition, clock=clock)
    wid = await host.start_workflow("poll-retry", 1, Deploy())
    # Each window polls at its start and once more when its timeout has passed, then fails.
    for step in (interval, timedelta(minutes=1), interval):
        await clock.wait_for_sleepers(1)
        await clock.advance(step)
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.data.log == ["rolled back"]
    errors = [e.message for e in await host.get_errors(wid) if "did not hold within" in e.message]
    assert len(errors) == 2, errors  # one per window
    assert all("(2 poll(s); last: status 200" in m for m in errors), errors  # the retry's window is new
    assert len(endpoint.requests) == 4


async def test_between_polls_the_step_sleeps_in_the_engine(make_host, endpoint):
    clock = ManualClock()
    definition = (
        WorkflowBuilder()
        .poll_endpoint(
            f"{endpoint.url}/status",
            until="$.status == 'ready'",
            status=200,
            interval=timedelta(minutes=5),
            timeout=timedelta(hours=1),
        )
        .build("poll-sleeps", 1)
    )
    host = await make_host(definition, clock=clock)
    wid = await host.start_workflow("poll-sleeps", 1, {})
    await clock.wait_for_sleepers(1)
    sleeping = await host.get_workflow(wid)
    (pointer,) = sleeping.execution_pointers
    assert pointer.status is PointerStatus.SLEEPING
    assert pointer.sleep_until == clock.now() + timedelta(minutes=5)
    assert pointer.persistence_data["polls"] == 1
    assert len(endpoint.requests) == 1
    endpoint.ready = True
    await clock.advance(timedelta(minutes=5))
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    assert len(endpoint.requests) == 2


async def test_a_host_restart_mid_poll_goes_on_polling(tmp_path, endpoint):
    url = f"sqlite:///{tmp_path}/poll.db"
    definition = (
        WorkflowBuilder(Deploy)
        .poll_endpoint(
            f"{endpoint.url}/status",
            until='$.status == "ready"',
            interval=timedelta(milliseconds=200),
            timeout=timedelta(minutes=5),
        )
        .output("result", lambda step: step.response.json["count"])
        .build("poll-restart", 1)
    )
    options = {"poll_interval": timedelta(milliseconds=200)}  # the new host finds the sleeping workflow soon
    first = WorkflowHostBuilder().use_persistence(url).with_options(**options).build()
    first.register_workflow(definition)
    await first.start()
    wid = await first.start_workflow("poll-restart", 1, Deploy())
    await endpoint.wait_for_requests(2)
    await first.stop()
    stopped_at = len(endpoint.requests)
    await asyncio.sleep(0.5)
    assert len(endpoint.requests) == stopped_at  # nothing polls while no host runs
    endpoint.ready = True

    second = WorkflowHostBuilder().use_persistence(url).with_options(**options).build()
    second.register_workflow(definition)
    await second.start()
    try:
        done = await second.wait_for_workflow(wid, timeout=30)
    finally:
        await second.stop()
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data.result == stopped_at + 1
    (pointer,) = done.execution_pointers
    assert pointer.status is PointerStatus.COMPLETE


def test_bad_conditions_and_settings_are_refused_when_the_workflow_is_built():
    builder = WorkflowBuilder()
    with pytest.raises(DefinitionError, match="JSONPath starting with"):
        builder.poll_endpoint("http://x", until="status == 1")
    with pytest.raises(DefinitionError, match="not a JSON literal"):
        builder.poll_endpoint("http://x", until="$.status == ready")
    with pytest.raises(DefinitionError, match="not an operator"):
        builder.poll_endpoint("http://x", until="$.a = 1")
    with pytest.raises(DefinitionError, match="http:// or https://"):
        builder.poll_endpoint("ftp://x")
    with pytest.raises(DefinitionError, match="method"):
        builder.poll_endpoint("http://x", method="FETCH")
    with pytest.raises(DefinitionError, match="interval"):
        builder.poll_endpoint("http://x", interval=timedelta(0))
    with pytest.raises(DefinitionError, match="status"):
        builder.poll_endpoint("http://x", status=[99])


@pytest.mark.parametrize(
    ("expression", "body", "holds"),
    [
        ('$.status == "ready"', {"status": "ready"}, True),
        ("$.status == 'ready'", {"status": "starting"}, False),
        ("$.status != 'failed'", {"status": "ready"}, True),
        ("$.status != 'failed'", {}, False),
        ("$.count >= 3", {"count": 3}, True),
        ("$.count > 3", {"count": 3}, False),
        ("$.count < 3", {"count": "2"}, False),
        (
            "$.items[?@.state == 'up'].id == 2",
            {"items": [{"id": 1, "state": "down"}, {"id": 2, "state": "up"}]},
            True,
        ),
        ("$.items[*].ok == true", {"items": [{"ok": False}, {"ok": True}]}, True),
        ("$.ready", {"ready": True}, True),
        ("$.ready", {"ready": False}, False),
        ("$.ready", {"ready": None}, False),
        ("$.missing", {"ready": True}, False),
        ("$.value == null", {"value": None}, True),
    ],
)
def test_jsonpath_conditions(expression: str, body: Any, holds: bool):
    response = PollResponse.of(200, json.dumps(body))
    assert JsonPathCondition(expression).holds(response) is holds


def test_a_body_that_is_not_json_never_satisfies_a_jsonpath_condition():
    assert JsonPathCondition("$.a").holds(PollResponse.of(200, "<html>")) is False
    assert JsonPathCondition("$ == 'x'").holds(PollResponse.of(200, '"x"')) is True
