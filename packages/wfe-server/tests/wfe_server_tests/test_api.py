"""Every route of a real ``wfe serve --http`` process, with httpx: success, 400, 401, 404, 409 and 422."""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

import httpx  # noqa: E402

from .serving import GITEA_SECRET, GITHUB_SECRET, Served, signature

pytestmark = pytest.mark.slow

API = "/api/v1"


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"type", "message"}
    return str(body["error"]["message"])


def _start(client: httpx.Client, definition_id: str, **extra: object) -> str:
    response = client.post(f"{API}/workflows", json={"definition_id": definition_id, **extra})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"].startswith(f"{definition_id}-")
    return str(body["id"])


def test_healthz_needs_no_token(served: Served):
    with served.client(token=None) as client:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/definitions"),
        ("GET", "/workflows"),
        ("POST", "/workflows"),
        ("GET", "/workflows/x"),
        ("POST", "/workflows/x/terminate"),
        ("POST", "/events"),
        ("GET", "/stream"),
        ("GET", "/openapi.json"),
        ("GET", "/schema/workflow.json"),
    ],
)
def test_every_api_route_needs_a_known_token(served: Served, method: str, path: str):
    for token in (None, "wrong-token"):
        with served.client(token=token) as client:
            response = client.request(method, API + path, json={})
        message = _error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "wrong-token" not in message
    assert not any("test-token-" in line for line in served.output), "a token was logged"


def test_definitions_and_their_graphs(served: Served):
    with served.client() as client:
        definitions = {d["id"]: d for d in client.get(f"{API}/definitions").json()}
        assert definitions["quick"] == {
            "id": "quick",
            "version": 1,
            "name": "Quick hello",
            "description": "says hello",
            "step_count": 1,
        }
        assert {"slow", "fails", "retrying"} <= set(definitions)
        svg = client.get(f"{API}/definitions/quick/1/graph")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        ET.fromstring(svg.content)
        dot = client.get(f"{API}/definitions/quick/1/graph", params={"format": "dot"})
        assert dot.text.startswith('digraph "quick v1"')
        assert "format" in _error(
            client.get(f"{API}/definitions/quick/1/graph", params={"format": "png"}), 400
        )
        assert "version" in _error(client.get(f"{API}/definitions/quick/one/graph"), 400)
        _error(client.get(f"{API}/definitions/quick/9/graph"), 404)
        _error(client.get(f"{API}/definitions/nope/1/graph"), 404)


def test_start_run_to_completion_and_read_everything(served: Served):
    with served.client() as client:
        workflow_id = _start(client, "quick", data={"who": "api"}, reference="ref-quick-1")
        run = served.wait_status(client, workflow_id, "Complete")
        assert run["definition_id"] == "quick" and run["reference"] == "ref-quick-1"
        assert run["data"]["who"] == "api" and run["outputs"]["greeting"] == "hi"
        [pointer] = run["pointers"]
        assert pointer["step"] == "hello" and pointer["status"] == "Complete" and pointer["attempts"] == 1
        assert pointer["duration_ms"] is not None and run["errors"] == []
        by_name = client.get(f"{API}/workflows/{run['name']}").json()
        assert by_name["id"] == workflow_id
        logs = client.get(f"{API}/workflows/{workflow_id}/logs").json()
        assert any("hello from quick" in entry["text"] for entry in logs["recorded"])
        assert (
            client.get(f"{API}/workflows/{workflow_id}/logs", params={"step": "other"}).json()["recorded"]
            == []
        )
        graph = client.get(f"{API}/workflows/{workflow_id}/graph")
        assert 'data-status="Complete"' in graph.text
        assert "#86efac" in client.get(f"{API}/workflows/{workflow_id}/graph?format=dot").text
        # ended: the controls do not apply
        for action in ("suspend", "resume", "terminate"):
            assert "ended" in _error(client.post(f"{API}/workflows/{workflow_id}/{action}"), 409)


def test_a_failing_step_shows_its_error(served: Served):
    with served.client() as client:
        workflow_id = _start(client, "fails")
        run = served.wait_status(client, workflow_id, "Terminated")
        assert run["errors"], run
        error = run["errors"][0]
        assert error["step"] == "boom" and error["message"]


def test_start_refuses_bad_input(served: Served):
    with served.client() as client:
        assert "definition_id" in _error(client.post(f"{API}/workflows", json={}), 400)
        assert "body" in _error(client.post(f"{API}/workflows", content=b"{not json"), 400)
        assert "body" in _error(client.post(f"{API}/workflows", json=[1]), 400)
        assert "version" in _error(
            client.post(f"{API}/workflows", json={"definition_id": "quick", "version": "x"}), 400
        )
        assert "colour" in _error(
            client.post(f"{API}/workflows", json={"definition_id": "quick", "colour": 1}), 400
        )
        assert "nope" in _error(client.post(f"{API}/workflows", json={"definition_id": "nope"}), 404)
        _error(client.post(f"{API}/workflows", json={"definition_id": "quick", "version": 7}), 404)
        deep: object = 1
        for _ in range(150):
            deep = {"d": deep}
        assert "data" in _error(
            client.post(f"{API}/workflows", json={"definition_id": "quick", "data": deep}), 422
        )


def test_listing_filters_searches_and_pages(served: Served):
    with served.client() as client:
        ids = [_start(client, "quick", reference=f"page-{i}", data={"colour": f"mauve{i}"}) for i in range(3)]
        for workflow_id in ids:
            served.wait_status(client, workflow_id, "Complete")
        page = client.get(f"{API}/workflows", params={"definition_id": "quick", "take": 2}).json()
        assert len(page["items"]) == 2 and page["total"] >= 3 and page["more"] is True
        assert page["items"][0]["create_time"] >= page["items"][1]["create_time"]
        assert set(page["items"][0]) == {
            "id", "name", "definition_id", "version", "status", "reference", "create_time", "complete_time"
        }  # fmt: skip
        second = client.get(
            f"{API}/workflows", params={"definition_id": "quick", "take": 2, "skip": 2}
        ).json()
        assert not {i["id"] for i in second["items"]} & {i["id"] for i in page["items"]}
        by_reference = client.get(f"{API}/workflows", params={"reference": "page-1"}).json()
        assert [i["id"] for i in by_reference["items"]] == [ids[1]]
        found = client.get(f"{API}/workflows", params={"q": "mauve2"}).json()
        assert [i["id"] for i in found["items"]] == [ids[2]]
        complete = client.get(f"{API}/workflows", params={"status": "Complete", "take": 500}).json()
        assert {i["status"] for i in complete["items"]} == {"Complete"}
        assert "status" in _error(client.get(f"{API}/workflows", params={"status": "Happy"}), 400)
        assert "take" in _error(client.get(f"{API}/workflows", params={"take": 0}), 400)
        assert "skip" in _error(client.get(f"{API}/workflows", params={"skip": "x"}), 400)


def test_unknown_instances_are_404(served: Served):
    with served.client() as client:
        for path in ("", "/graph", "/logs"):
            _error(client.get(f"{API}/workflows/no-such-run{path}"), 404)
        for action in ("suspend", "resume", "terminate"):
            _error(client.post(f"{API}/workflows/no-such-run/{action}"), 404)
        _error(client.get(f"{API}/nothing-here"), 404)


def _collect(
    served: Served,
    workflow_id: str | None,
    messages: list[tuple[str, dict[str, object]]],
    stop: threading.Event,
) -> None:
    params = {"workflow_id": workflow_id} if workflow_id else {}
    try:
        with (
            served.client() as client,
            client.stream("GET", f"{API}/stream", params=params, timeout=None) as response,
        ):
            assert response.status_code == 200
            event = None
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    messages.append((event, json.loads(line[6:])))
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def test_stream_logs_and_controls_of_a_running_workflow(served: Served):
    with served.client() as client:
        workflow_id = _start(client, "slow")
        messages: list[tuple[str, dict[str, object]]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_collect, args=(served, workflow_id, messages, stop), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any(event == "log" for event, _ in messages):
            assert time.monotonic() < deadline, messages
            time.sleep(0.1)
        assert all(m["workflow_id"] == workflow_id for _, m in messages)
        line = next(m for e, m in messages if e == "log")
        assert line["step"] == "count" and str(line["text"]).startswith("tick ")
        live = client.get(f"{API}/workflows/{workflow_id}/logs").json()["live"]
        assert live and live[0]["text"] == "tick 1"
        running = client.get(f"{API}/workflows/{workflow_id}/graph").text
        assert 'data-status="Running"' in running

        assert client.post(f"{API}/workflows/{workflow_id}/resume").json() == {"accepted": False}
        assert client.post(f"{API}/workflows/{workflow_id}/terminate").json() == {"accepted": True}
        served.wait_status(client, workflow_id, "Terminated")
        deadline = time.monotonic() + 30
        while not any(m.get("kind") == "WorkflowTerminated" for e, m in messages if e == "lifecycle"):
            assert time.monotonic() < deadline, messages
            time.sleep(0.1)
        stop.set()
        _error(client.post(f"{API}/workflows/{workflow_id}/terminate"), 409)


def test_suspend_and_resume(served: Served):
    with served.client() as client:
        # a step that failed and waits a minute for its retry: no pass in progress, so suspend applies at once
        workflow_id = _start(client, "retrying")
        deadline = time.monotonic() + 60
        while not client.get(f"{API}/workflows/{workflow_id}").json()["errors"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.post(f"{API}/workflows/{workflow_id}/suspend").json() == {"accepted": True}
        served.wait_status(client, workflow_id, "Suspended")
        assert client.post(f"{API}/workflows/{workflow_id}/resume").json() == {"accepted": True}
        served.wait_status(client, workflow_id, "Runnable")
        assert client.post(f"{API}/workflows/{workflow_id}/terminate").json() == {"accepted": True}
        served.wait_status(client, workflow_id, "Terminated")


def test_events(served: Served):
    with served.client() as client:
        response = client.post(
            f"{API}/events", json={"name": "approved", "key": "order-1", "data": {"by": "ann"}}
        )
        assert response.status_code == 202 and response.json()["id"]
        later = client.post(
            f"{API}/events", json={"name": "approved", "key": "k", "effective_date": "2030-01-01T00:00:00Z"}
        )
        assert later.status_code == 202
        assert "key" in _error(client.post(f"{API}/events", json={"name": "approved"}), 400)
        assert "effective_date" in _error(
            client.post(f"{API}/events", json={"name": "a", "key": "k", "effective_date": "soon"}), 400
        )


def test_schema_and_openapi(served: Served):
    with served.client() as client:
        schema = client.get(f"{API}/schema/workflow.json").json()
        assert schema["$schema"].startswith("https://json-schema.org/") and "on" in json.dumps(schema)
        document = client.get(f"{API}/openapi.json").json()
        assert document["openapi"].startswith("3.")
        assert {
            "/api/v1/definitions",
            "/api/v1/definitions/{definition_id}/{version}/graph",
            "/api/v1/workflows",
            "/api/v1/workflows/{id_or_name}",
            "/api/v1/workflows/{id_or_name}/graph",
            "/api/v1/workflows/{id_or_name}/logs",
            "/api/v1/workflows/{id_or_name}/suspend",
            "/api/v1/workflows/{id_or_name}/resume",
            "/api/v1/workflows/{id_or_name}/terminate",
            "/api/v1/events",
            "/api/v1/stream",
            "/api/v1/schema/workflow.json",
            "/healthz",
        } <= set(document["paths"])


def _count(client: httpx.Client) -> int:
    return int(client.get(f"{API}/workflows", params={"definition_id": "quick", "take": 500}).json()["total"])


def _push(ref: str, sha: str = "abc123") -> bytes:
    return json.dumps({"ref": ref, "after": sha, "repository": {"full_name": "acme/app"}}).encode()


def test_github_webhook_starts_matching_workflows_and_refuses_bad_signatures(served: Served):
    with served.client() as client, served.client(token=None) as anonymous:
        before = _count(client)
        body = _push("refs/heads/main", "deadbeef")
        for bad in (
            {},
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            {"X-Hub-Signature-256": signature("wrong", body)},
        ):
            response = anonymous.post(
                "/hooks/github", content=body, headers={"X-GitHub-Event": "push", **bad}
            )
            _error(response, 401)
        assert _count(client) == before
        good = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + signature(GITHUB_SECRET, body)}
        response = anonymous.post("/hooks/github", content=body, headers=good)
        assert response.status_code == 202, response.text
        [started] = response.json()["started"]
        run = served.wait_status(client, started["id"], "Complete")
        assert run["data"]["ref"] == "refs/heads/main" and run["data"]["sha"] == "deadbeef"
        assert run["data"]["repository"] == "acme/app" and run["data"]["branch"] == "main"
        other = _push("refs/heads/feature")
        response = anonymous.post(
            "/hooks/github",
            content=other,
            headers={
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": "sha256=" + signature(GITHUB_SECRET, other),
            },
        )
        assert response.json()["started"] == []


def test_gitea_webhook_tag(served: Served):
    with served.client(token=None) as anonymous, served.client() as client:
        body = _push("refs/tags/v1.2.0", "cafe")
        bad = anonymous.post(
            "/hooks/gitea",
            content=body,
            headers={"X-Gitea-Event": "push", "X-Gitea-Signature": signature("x", body)},
        )
        _error(bad, 401)
        response = anonymous.post(
            "/hooks/gitea",
            content=body,
            headers={"X-Gitea-Event": "push", "X-Gitea-Signature": signature(GITEA_SECRET, body)},
        )
        [started] = response.json()["started"]
        run = served.wait_status(client, started["id"], "Complete")
        assert run["data"]["tag"] == "v1.2.0" and run["data"]["event"] == "tag"
