"""The provider over HTTP, against an in-process server that records requests (no OpenSearch needed)."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from wfe_core.errors import SearchError
from wfe_core.models import DataFilter, SearchFilter, StatusFilter, WorkflowStatus
from wfe_opensearch import MAPPING, SETTINGS, OpenSearchIndex, build_document, build_search_body

from .recording_server import RecordingServer
from .samples import MakeInstance, OrderData


@pytest.fixture
async def server() -> AsyncIterator[RecordingServer]:
    recording = RecordingServer()
    await recording.start()
    yield recording
    await recording.stop()


@pytest.fixture
async def index(server: RecordingServer) -> AsyncIterator[OpenSearchIndex]:
    provider = OpenSearchIndex.from_url(server.url, index="wfe-test", max_retries=0)
    yield provider
    await provider.stop()


async def test_start_creates_the_versioned_index_with_its_alias(
    server: RecordingServer, index: OpenSearchIndex
) -> None:
    await index.start()
    assert [(r.method, r.path) for r in server.requests] == [
        ("HEAD", "/_alias/wfe-test"),
        ("PUT", "/wfe-test-v1"),
    ]
    create = server.of("PUT")[0]
    assert create.body == {"settings": SETTINGS, "mappings": MAPPING, "aliases": {"wfe-test": {}}}
    assert index.concrete_index == "wfe-test-v1"


async def test_start_twice_creates_the_index_once(server: RecordingServer, index: OpenSearchIndex) -> None:
    await index.start()
    await index.start()
    assert len(server.of("PUT")) == 1
    assert [r.path for r in server.of("HEAD")] == ["/_alias/wfe-test", "/_alias/wfe-test"]


async def test_start_when_another_host_created_the_index_first(server: RecordingServer) -> None:
    first = OpenSearchIndex.from_url(server.url, index="wfe-race", max_retries=0)
    second = OpenSearchIndex.from_url(server.url, index="wfe-race", max_retries=0)
    try:
        await first.start()
        # The alias vanished (or the other host's create is not finished): the second host's create is refused
        # as already existing and it restores the alias instead of failing.
        del server.aliases["wfe-race"]
        await second.start()
        assert server.aliases == {"wfe-race": "wfe-race-v1"}
        assert [(r.method, r.path) for r in server.requests[-3:]] == [
            ("HEAD", "/_alias/wfe-race"),
            ("PUT", "/wfe-race-v1"),
            ("PUT", "/wfe-race-v1/_alias/wfe-race"),
        ]
    finally:
        await first.stop()
        await second.stop()


async def test_start_refuses_a_plain_index_with_the_alias_name(server: RecordingServer) -> None:
    server.indices["wfe-taken"] = {}
    provider = OpenSearchIndex.from_url(server.url, index="wfe-taken", max_retries=0)
    try:
        with pytest.raises(SearchError, match="delete that index or choose another index name"):
            await provider.start()
    finally:
        await provider.stop()


async def test_index_workflow_puts_the_document_by_instance_id(
    server: RecordingServer, index: OpenSearchIndex, make_instance: MakeInstance
) -> None:
    await index.start()
    instance = make_instance(reference="ref-9", data={"n": 3})
    await index.index_workflow(instance)
    put = server.of("PUT")[-1]
    assert put.path == f"/wfe-test/_doc/{instance.id}"
    assert put.query == {}
    assert put.body == build_document(instance)


async def test_index_workflow_twice_replaces_the_document(
    server: RecordingServer, index: OpenSearchIndex, make_instance: MakeInstance
) -> None:
    await index.start()
    instance = make_instance(status=WorkflowStatus.RUNNABLE)
    await index.index_workflow(instance)
    instance.status = WorkflowStatus.COMPLETE
    await index.index_workflow(instance)
    assert len(server.documents) == 1
    assert server.documents[instance.id]["status"] == "Complete"


async def test_refresh_option_is_sent_with_each_write(
    server: RecordingServer, make_instance: MakeInstance
) -> None:
    provider = OpenSearchIndex.from_url(server.url, index="wfe-test", refresh="wait_for", max_retries=0)
    try:
        await provider.index_workflow(make_instance())
        assert server.of("PUT")[-1].query == {"refresh": "wait_for"}
    finally:
        await provider.stop()


async def test_search_sends_the_built_body_and_returns_a_page(
    server: RecordingServer, index: OpenSearchIndex, make_instance: MakeInstance
) -> None:
    await index.start()
    for n in range(3):
        await index.index_workflow(
            make_instance(
                reference=f"ref{n}",
                data=OrderData(order_id=n, customer="c", placed=make_instance().create_time),
            )
        )
    filters: list[SearchFilter] = [
        StatusFilter(status=WorkflowStatus.RUNNABLE),
        DataFilter(path="order_id", gte=1),
    ]
    page = await index.search("ref1 c", skip=1, take=1, filters=filters)
    request = server.requests[-1]
    assert request.path == "/wfe-test/_search"
    assert request.body == build_search_body("ref1 c", 1, 1, filters)
    assert page.total == 3
    assert [result.reference for result in page.data] == ["ref1"]
    assert page.data[0].data == {
        "order_id": 1,
        "customer": "c",
        "placed": "2020-05-01T12:00:00Z",
        "express": False,
        "tags": [],
    }
    assert page.data[0].data_type == "OrderData"


async def test_basic_auth_from_the_url_is_sent(server: RecordingServer) -> None:
    url = server.url.replace("http://", "http://admin:s%3Acret@")
    provider = OpenSearchIndex.from_url(url, index="wfe-test", max_retries=0)
    try:
        await provider.start()
        expected = "Basic " + base64.b64encode(b"admin:s:cret").decode()
        assert {r.authorization for r in server.requests} == {expected}
    finally:
        await provider.stop()


async def test_search_before_start_names_the_fix(index: OpenSearchIndex) -> None:
    with pytest.raises(SearchError, match="start the provider first") as caught:
        await index.search("")
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "check the user:password"), (403, "check the user:password"), (500, "failed"), (503, "failed")],
)
async def test_server_errors_become_search_errors(
    server: RecordingServer, index: OpenSearchIndex, make_instance: MakeInstance, status: int, message: str
) -> None:
    server.fail_with = (
        status,
        {"error": {"root_cause": [{"type": "x", "reason": "boom"}], "type": "x", "reason": "boom"}},
    )
    calls: list[Callable[[], Awaitable[object]]] = [
        index.start,
        lambda: index.index_workflow(make_instance()),
        lambda: index.search("x"),
    ]
    for call in calls:
        with pytest.raises(SearchError, match=message) as caught:
            await call()
        assert caught.value.__cause__ is not None


async def test_unreachable_server_is_a_search_error_naming_the_fix(make_instance: MakeInstance) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenSearchIndex.from_url(f"http://127.0.0.1:{port}", max_retries=0)
    try:
        with pytest.raises(SearchError, match="cannot reach the server"):
            await provider.index_workflow(make_instance())
    finally:
        await provider.stop()


async def test_instance_without_id_is_refused(index: OpenSearchIndex, make_instance: MakeInstance) -> None:
    with pytest.raises(SearchError, match="without an id"):
        await index.index_workflow(make_instance(id=""))


async def test_stop_is_idempotent(server: RecordingServer) -> None:
    provider = OpenSearchIndex.from_url(server.url, max_retries=0)
    await provider.start()
    await provider.stop()
    await provider.stop()


async def test_start_after_stop_reconnects(server: RecordingServer, make_instance: MakeInstance) -> None:
    provider = OpenSearchIndex.from_url(server.url, max_retries=0)
    await provider.start()
    await provider.stop()
    await provider.start()
    await provider.index_workflow(make_instance())
    await provider.stop()
    assert len(server.documents) == 1
