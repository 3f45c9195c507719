"""The ``poll-endpoint`` step type: polls a local HTTP server from a YAML workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from wfe import WorkflowHostBuilder, WorkflowStatus
from wfe_yaml import CompiledWorkflow, YamlValidationError, load_workflow_from_str


class Server:
    def __init__(self) -> None:
        self.ready_after = 2
        self.requests: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.method)
        ready = len(self.requests) >= self.ready_after
        return web.json_response({"status": "ready" if ready else "starting", "count": len(self.requests)})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("*", "/health", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/health"
    yield state
    await runner.cleanup()


def workflow(config: str, *, step_type: str = "poll-endpoint", extra: str = "") -> str:
    return f"""\
workflow:
  id: wait-ready
  version: 1
  steps:
    - name: wait
      type: {step_type}
      config: {config}
{extra}    - name: after
      type: shell
      config: {{run: 'echo "##wfe[output after=$STATUS]"'}}
"""


async def run(compiled: CompiledWorkflow, data: dict[str, Any] | None = None) -> Any:
    host = WorkflowHostBuilder().build()
    host.register_workflow(compiled)
    async with host:
        wid = await host.start_workflow(compiled.id, compiled.version, data or {})
        done = await host.wait_for_workflow(
            wid, timeout=timedelta(seconds=30), statuses=(WorkflowStatus.COMPLETE, WorkflowStatus.TERMINATED)
        )
        return done, [e.message for e in await host.get_errors(wid)]


@pytest.mark.parametrize("step_type", ["poll-endpoint", "poll_endpoint"])
async def test_polls_until_the_condition_holds_and_outputs_the_listed_keys(
    server: Server, step_type: str
) -> None:
    config = (
        "{url: '((url))', method: POST, body: {check: 1}, until: '$.status == \"ready\"', "
        "status: [200], interval: 20ms, timeout: 30s}"
    )
    extra = "      outputs:\n        - name: status\n"
    [compiled] = load_workflow_from_str(
        workflow(config, step_type=step_type, extra=extra), {"url": server.url}
    )
    done, errors = await run(compiled)
    assert done.status is WorkflowStatus.COMPLETE, errors
    assert server.requests == ["POST", "POST"]
    assert done.data["status"] == 200 and done.data["after"] == 200
    assert "body" not in done.data  # not listed in outputs:


async def test_a_timeout_fails_the_run(server: Server) -> None:
    server.ready_after = 10_000
    config = "{url: '((url))', until: '$.count > 1000', interval: 20ms, timeout: 150ms}"
    [compiled] = load_workflow_from_str(workflow(config), {"url": server.url})
    done, errors = await run(compiled)
    assert done.status is WorkflowStatus.TERMINATED
    assert "after" not in done.data
    assert any("did not hold within" in m for m in errors), errors


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{until: '$.a'}", "url"),
        ("{url: 'http://x', until: 'status == 1'}", "JSONPath starting with"),
        ("{url: 'http://x', interval: soon}", "invalid duration"),
        ("{url: 'http://x', until: '$.a', body_contains: ok}", "one of 'until' and 'body_contains'"),
        ("{url: 'http://x', verb: GET}", "verb"),
    ],
)
def test_bad_config_is_reported_at_load_time(config: str, message: str) -> None:
    with pytest.raises(YamlValidationError, match=message):
        load_workflow_from_str(workflow(config))
