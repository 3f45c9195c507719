"""The server's parts that need no process: tokens, the bind check, webhook signatures and triggers, the
broker's fan-out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wfe_core.step import LogChunk
from wfe_server import (
    Broker,
    ServerConfigError,
    Trigger,
    check_bind,
    load_tokens,
    parse_bind,
    triggers_from_on,
)
from wfe_server._webhooks import _verify, event_of


def test_tokens_from_a_file_and_the_environment(tmp_path: Path):
    file = tmp_path / "tokens"
    file.write_text("# ops\nalpha\n\n  beta  \n")
    assert load_tokens(file, {"WFE_SERVER_TOKENS": "gamma, delta"}) == ["alpha", "beta", "gamma", "delta"]
    with pytest.raises(ServerConfigError, match="token file"):
        load_tokens(tmp_path / "missing", {})


def test_beyond_loopback_needs_tokens_unless_insecure():
    check_bind("127.0.0.1", [], False)
    check_bind("::1", [], False)
    check_bind("0.0.0.0", ["t"], False)
    check_bind("0.0.0.0", [], True)
    with pytest.raises(ServerConfigError, match="--insecure"):
        check_bind("0.0.0.0", [], False)


def test_parse_bind():
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_bind("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind("8080")


def test_signatures():
    body = b'{"x": 1}'
    digest = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    assert _verify("s3", body, "sha256=" + digest, "sha256=")
    assert not _verify("s3", body, digest, "sha256=")
    assert not _verify("other", body, "sha256=" + digest, "sha256=")
    assert not _verify(None, body, "sha256=" + digest, "sha256=")
    assert _verify("s3", body, digest, "")


def test_triggers_and_events():
    triggers = triggers_from_on("ci", {"push": {"branches": ["main", "release/*"]}, "tag": {"tags": ["v*"]}})
    push = next(t for t in triggers if t.event == "push")
    assert push.matches("push", "release/1.0") and not push.matches("push", "feature")
    assert not push.matches("tag", "main")
    assert Trigger("ci", "pull_request").matches("pull_request", "anything")
    assert triggers_from_on("ci", ["push"]) == [Trigger("ci", "push")]
    event, name, data = event_of(
        "push", {"ref": "refs/tags/v2", "after": "abc", "repository": {"full_name": "a/b"}}
    )
    assert (event, name, data["sha"], data["repository"]) == ("tag", "v2", "abc", "a/b")
    assert event_of("issues", {}) is None


async def test_broker_fans_out_filters_and_keeps_lines():
    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    everything, only_b = broker.subscribe(), broker.subscribe("b")
    for workflow_id in ("a", "b"):
        broker.write(
            LogChunk(workflow_id, "p-" + workflow_id, 0, "step", "stdout", "line\n", datetime.now(UTC))
        )
    assert everything.queue.qsize() == 2 and only_b.queue.qsize() == 1
    assert [line["text"] for line in broker.lines("a")] == ["line"]
    broker.unsubscribe(everything)
    assert broker.subscriber_count == 1


async def test_the_overlay_marks_a_running_step_with_its_start():
    from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance
    from wfe_server._views import pointer_tree

    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    broker.write(LogChunk("a", "p-run", 1, "work", "stdout", "line\n", started))
    broker.write(LogChunk("a", "p-run", 1, "work", "stdout", "later\n", datetime.now(UTC)))
    instance = WorkflowInstance(
        id="a",
        workflow_definition_id="d",
        version=1,
        create_time=started,
        execution_pointers=[
            ExecutionPointer(id="p-run", step_id=1, step_name="work", retry_count=2),
            ExecutionPointer(id="p-next", step_id=2, step_name="next"),
        ],
    )
    run, waiting = broker.overlay(instance).execution_pointers
    assert run.status is PointerStatus.RUNNING and run.start_time == started  # the first line's time
    assert waiting.status is PointerStatus.PENDING and waiting.start_time is None
    tree = pointer_tree(broker.overlay(instance), None)
    assert tree[0]["attempts"] == 3 and tree[0]["duration_ms"] is None and tree[1]["attempts"] == 0


def test_the_api_reference_in_the_docs_is_current():
    from wfe_server._reference import END, START, markdown

    text = (Path(__file__).resolve().parents[4] / "docs" / "server.md").read_text(encoding="utf-8")
    current = START + text.partition(START)[2].partition(END)[0] + END
    assert current == markdown(), "run: python -m wfe_server._reference docs/server.md"
