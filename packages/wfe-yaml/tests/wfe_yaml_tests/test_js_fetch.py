"""``fetch`` from scripts: served by the parent, only to hosts the step's ``net`` permission lists."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

from wfe_yaml.js import JsPool, JsScriptError, JsTimeoutError

pytestmark = pytest.mark.asyncio(loop_scope="module")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Test", "yes")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/missing":
            self._reply(404, {"error": "not here"})
        elif url.path == "/slow":
            time.sleep(3)
            self._reply(200, {"slow": True})
        else:
            self._reply(
                200,
                {
                    "method": self.command,
                    "path": self.path,
                    "body": body,
                    "content_type": self.headers.get("Content-Type"),
                    "token": self.headers.get("X-Token"),
                    "host": self.headers.get("Host"),
                },
            )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


async def run(pool: JsPool, script: str, port: int, net: list[str], timeout: float = 10) -> dict[str, Any]:
    result = await pool.run(script, data={"port": port}, permissions={"net": net}, timeout=timeout)
    return result.outputs or {}


async def warm(pool: JsPool) -> None:
    """A worker ready and idle, so what a test times is the script, not a worker starting after a kill."""
    assert (await pool.run("output('warm', 1)", timeout=30)).outputs == {"warm": 1}


async def test_get_json_from_allowed_host(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        """
        const r = await fetch(`http://127.0.0.1:${inputs().port}/items?id=7`);
        output("status", r.status);
        output("ok", r.ok);
        output("type", r.headers.get("content-type"));
        output("custom", r.headers.get("X-Test"));
        output("body", await r.json());
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out["status"] == 200 and out["ok"] is True
    assert out["type"] == "application/json" and out["custom"] == "yes"
    assert out["body"]["method"] == "GET" and out["body"]["path"] == "/items?id=7"


async def test_post_with_body_and_headers(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        """
        const r = await fetch(`http://127.0.0.1:${inputs().port}/submit`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Token": "t0k" },
          body: JSON.stringify({ a: 1, s: "é" }),
        });
        output("echo", await r.json());
        """,
        server_port,
        [f"127.0.0.1:{server_port}"],
    )
    assert out["echo"]["method"] == "POST"
    assert json.loads(out["echo"]["body"]) == {"a": 1, "s": "é"}
    assert out["echo"]["content_type"] == "application/json"
    assert out["echo"]["token"] == "t0k"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "head", "get"])
async def test_supported_methods(pool: JsPool, server_port: int, method: str) -> None:
    out = await run(
        pool,
        f"""
        const r = await fetch(`http://127.0.0.1:${{inputs().port}}/m`, {{ method: "{method}", body: "b" }});
        output("status", r.status);
        output("text", await r.text());
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out["status"] == 200
    if method.upper() == "HEAD":
        assert out["text"] == ""
    else:
        assert json.loads(out["text"])["method"] == method.upper()


async def test_unsupported_method_is_a_type_error(pool: JsPool, server_port: int) -> None:
    with pytest.raises(JsScriptError, match="Unsupported HTTP method 'TRACE'"):
        await run(
            pool, "await fetch(`http://127.0.0.1:${inputs().port}/`, {method: 'TRACE'})", server_port, []
        )


async def test_http_error_status_is_a_response(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        """
        const r = await fetch(`http://127.0.0.1:${inputs().port}/missing`);
        output("status", r.status); output("ok", r.ok); output("body", await r.json());
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out == {"status": 404, "ok": False, "body": {"error": "not here"}}


async def test_response_body_can_be_read_once(pool: JsPool, server_port: int) -> None:
    with pytest.raises(JsScriptError, match="Body already consumed"):
        await run(
            pool,
            "const r = await fetch(`http://127.0.0.1:${inputs().port}/`); await r.text(); await r.text();",
            server_port,
            ["127.0.0.1"],
        )


async def test_no_permissions_denies_every_fetch(pool: JsPool, server_port: int) -> None:
    with pytest.raises(JsScriptError) as caught:
        await run(pool, "await fetch(`http://127.0.0.1:${inputs().port}/`);", server_port, [])
    assert caught.value.js_message == f"Permission denied: net access to '127.0.0.1:{server_port}'"
    assert caught.value.line == 1


async def test_denial_is_a_catchable_error(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        """
        try { await fetch("http://example.com/"); output("reached", true); }
        catch (e) { output("error", e.message); output("isError", e instanceof Error); }
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out == {"error": "Permission denied: net access to 'example.com'", "isError": True}


@pytest.mark.parametrize(
    ("allowed", "url_host"),
    [
        pytest.param(["localhost"], "127.0.0.1", id="localhost-does-not-allow-127.0.0.1"),
        pytest.param(["127.0.0.1"], "localhost", id="127.0.0.1-does-not-allow-localhost"),
        pytest.param(["localhost"], "2130706433", id="decimal-ip-literal"),
        pytest.param(["localhost"], "0x7f000001", id="hex-ip-literal"),
        pytest.param(["localhost", "127.0.0.1"], "127.1", id="short-ip-literal"),
        pytest.param(["localhost", "127.0.0.1"], "[::1]", id="ipv6-loopback"),
        pytest.param(["127.0.0.1:1"], "127.0.0.1", id="other-port"),
        pytest.param(["127.0.0.1"], "user@evil.example", id="userinfo-does-not-hide-host"),
    ],
)
async def test_hosts_are_compared_exactly(
    pool: JsPool, server_port: int, allowed: list[str], url_host: str
) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: net access"):
        await run(pool, f"await fetch('http://{url_host}:' + inputs().port + '/');", server_port, allowed)


async def test_host_names_are_looked_up_outside_the_loops_default_executor(
    pool: JsPool, server_port: int
) -> None:
    loop = asyncio.get_running_loop()
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        lookups.append(threading.current_thread().name)
        return real_getaddrinfo(*args, **kwargs)

    # A default executor that refuses work: a lookup sent there would fail the fetch.
    class Refusing(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the loop's default executor was used")

    refusing = Refusing(max_workers=1)
    loop.set_default_executor(refusing)
    socket.getaddrinfo = recording_getaddrinfo
    try:
        out = await run(
            pool,
            "const r = await fetch(`http://localhost:${inputs().port}/named`); output('path', (await r.json()).path);",
            server_port,
            ["localhost"],
        )
    finally:
        socket.getaddrinfo = real_getaddrinfo
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
        refusing.shutdown()
    assert out == {"path": "/named"}
    assert lookups and all(name.startswith("wfe-js-dns") for name in lookups)


async def test_credentials_in_url_are_refused(pool: JsPool, server_port: int) -> None:
    # What the check parses and what an HTTP client connects to must never differ, so no userinfo at all.
    with pytest.raises(JsScriptError, match="credentials"):
        await run(
            pool, "await fetch(`http://evil.example@127.0.0.1:${inputs().port}/`)", server_port, ["127.0.0.1"]
        )


async def test_ip_literal_allowed_when_listed(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        "const r = await fetch(`http://127.0.0.1:${inputs().port}/`); output('s', r.status)",
        server_port,
        ["127.0.0.1"],
    )
    assert out == {"s": 200}


async def test_redirect_to_allowed_host_is_followed(pool: JsPool, server_port: int) -> None:
    target = f"http://127.0.0.1:{server_port}/final"
    out = await run(
        pool,
        f"""
        const r = await fetch(`http://127.0.0.1:${{inputs().port}}/redirect?to={target}`);
        output("status", r.status); output("redirected", r.redirected); output("url", r.url);
        output("path", (await r.json()).path);
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out == {"status": 200, "redirected": True, "url": target, "path": "/final"}


@pytest.mark.parametrize(
    "target",
    ["http://localhost:{port}/final", "http://example.com/", "http://x@127.0.0.1:{port}/"],
    ids=["localhost", "other-host", "credentials"],
)
async def test_redirect_to_denied_target_is_refused(pool: JsPool, server_port: int, target: str) -> None:
    url = target.format(port=server_port)
    with pytest.raises(JsScriptError) as caught:
        await run(
            pool,
            f"await fetch(`http://127.0.0.1:${{inputs().port}}/redirect?to={url}`);",
            server_port,
            ["127.0.0.1"],
        )
    assert "Permission denied: net access" in str(caught.value) or "credentials" in str(caught.value)


async def test_redirect_to_file_url_is_not_followed(pool: JsPool, server_port: int) -> None:
    out = await run(
        pool,
        """
        const r = await fetch(`http://127.0.0.1:${inputs().port}/redirect?to=file:///etc/passwd`);
        output("status", r.status); output("body", await r.text());
        """,
        server_port,
        ["127.0.0.1"],
    )
    assert out == {"status": 302, "body": ""}


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "not a url", "http:///nohost"])
async def test_non_http_urls_are_rejected(pool: JsPool, server_port: int, url: str) -> None:
    with pytest.raises(JsScriptError, match="URL"):
        await run(pool, f"await fetch({json.dumps(url)});", server_port, ["127.0.0.1", ""])


async def test_spin_while_fetch_in_flight_is_stopped(pool: JsPool, server_port: int) -> None:
    await warm(pool)
    started = time.monotonic()
    with pytest.raises(JsTimeoutError):
        await run(
            pool,
            "fetch(`http://127.0.0.1:${inputs().port}/slow`); while (true) {}",
            server_port,
            ["127.0.0.1"],
            timeout=0.5,
        )
    assert time.monotonic() - started < 1.5
    out = await run(pool, "output('after', 1)", server_port, [])
    assert out == {"after": 1}


async def test_spin_after_fetch_and_await_is_stopped(pool: JsPool, server_port: int) -> None:
    await warm(pool)
    started = time.monotonic()
    with pytest.raises(JsTimeoutError):
        await run(
            pool,
            "const p = fetch(`http://127.0.0.1:${inputs().port}/`); await 0; while (true) {}",
            server_port,
            ["127.0.0.1"],
            timeout=0.5,
        )
    assert time.monotonic() - started < 1.5


async def test_slow_server_is_bounded_by_step_timeout(pool: JsPool, server_port: int) -> None:
    await warm(pool)
    started = time.monotonic()
    with pytest.raises((JsTimeoutError, JsScriptError)):
        await run(
            pool,
            "await fetch(`http://127.0.0.1:${inputs().port}/slow`);",
            server_port,
            ["127.0.0.1"],
            timeout=0.5,
        )
    assert time.monotonic() - started < 1.5
