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


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """One ``GET /api/v1/workflows`` on an open connection: the response's status (its body read whole)."""
    writer.write(b"GET /api/v1/workflows HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


@pytest.mark.slow
async def test_an_idle_connection_stays_open_past_a_clients_keep_alive(server):
    # A client reuses an idle connection until its own keep-alive expiry (httpx: 5 s): the server must not
    # close it first, or a request sent as it closes gets a reset instead of a response.
    _, running, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        assert await _get(reader, writer) == 200
        await asyncio.sleep(6)
        assert await _get(reader, writer) == 200  # the same connection, idle for longer than 5 s
    finally:
        writer.close()
