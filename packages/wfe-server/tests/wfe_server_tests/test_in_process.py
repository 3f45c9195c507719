"""The server in this process over an in-memory host: listing through the host's search index, and a stream
subscriber that leaves is forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

import httpx  # noqa: E402

from wfe import WorkflowBuilder, WorkflowHost, WorkflowHostBuilder  # noqa: E402
from wfe_server import Broker, RunningServer, start_server  # noqa: E402


class Ticket(BaseModel):
    title: str = ""


@pytest.fixture
async def server() -> AsyncIterator[tuple[WorkflowHost, RunningServer, Broker]]:
    broker = Broker()
    host = WorkflowHostBuilder().use_search_index("memory://").use_log_sink(broker).build()
    host.register_workflow(
        WorkflowBuilder(Ticket).wait_for("close", lambda d, ctx: ctx.workflow.id).build("ticket", 1)
    )
    async with host:
        running = await start_server(host, broker, "127.0.0.1", 0)
        try:
            yield host, running, broker
        finally:
            await running.stop()


async def test_listing_goes_through_the_hosts_search(server):
    host, running, _ = server
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as client:
        first = (
            await client.post(
                "/api/v1/workflows",
                json={"definition_id": "ticket", "data": {"title": "printer on fire"}, "reference": "T-1"},
            )
        ).json()
        await client.post("/api/v1/workflows", json={"definition_id": "ticket", "data": {"title": "coffee"}})
        for _ in range(100):
            page = (await client.get("/api/v1/workflows", params={"q": "printer"})).json()
            if page["total"] == 1:
                break
            await asyncio.sleep(0.05)
        assert [item["id"] for item in page["items"]] == [first["id"]]
        assert page["items"][0]["name"] == first["name"]
        by_reference = (await client.get("/api/v1/workflows", params={"reference": "T-1"})).json()
        assert [item["id"] for item in by_reference["items"]] == [first["id"]]
        runnable = (await client.get("/api/v1/workflows", params={"status": "Runnable"})).json()
        assert runnable["total"] == 2


async def test_a_stream_subscriber_that_leaves_is_forgotten(server):
    _, running, broker = server
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as client:
        async with client.stream("GET", "/api/v1/stream") as response:
            async for line in response.aiter_lines():
                assert line == ": connected"
                break
            assert broker.subscriber_count == 1
    for _ in range(100):
        if broker.subscriber_count == 0:
            break
        await asyncio.sleep(0.05)
    assert broker.subscriber_count == 0
