"""What a script can reach: files only under ``read``, env vars only through the allowlist, no processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from wfe_yaml.js import JsPool, JsScriptError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "hello.txt").write_text("héllo wörld\n", encoding="utf-8")
    (allowed / "sub" / "data.json").write_text('{"k": [1, 2]}', encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    (allowed / "link-out").symlink_to(tmp_path / "secret.txt")
    (allowed / "dir-link").symlink_to(tmp_path)
    (tmp_path / "allowed-sibling").mkdir()
    (tmp_path / "allowed-sibling" / "x.txt").write_text("sibling", encoding="utf-8")
    return tmp_path


async def run(pool: JsPool, script: str, **kwargs: Any) -> dict[str, Any]:
    result = await pool.run(script, timeout=10, **kwargs)
    return result.outputs or {}


async def test_read_file_under_allowed_directory(pool: JsPool, tree: Path) -> None:
    out = await run(
        pool,
        """
        output("text", await readFile(inputs().dir + "/hello.txt"));
        output("json", JSON.parse(await Wfe.readFile(inputs().dir + "/sub/data.json")));
        output("deno", await Deno.readTextFile(inputs().dir + "/hello.txt"));
        output("bytes", (await Deno.readFile(inputs().dir + "/hello.txt")).length);
        """,
        data={"dir": str(tree / "allowed")},
        permissions={"read": [str(tree / "allowed")]},
    )
    assert out == {"text": "héllo wörld\n", "json": {"k": [1, 2]}, "deno": "héllo wörld\n", "bytes": 14}


async def test_read_entry_may_name_a_single_file(pool: JsPool, tree: Path) -> None:
    target = tree / "allowed" / "hello.txt"
    out = await run(
        pool, f"output('t', await readFile({str(target)!r}))", permissions={"read": [str(target)]}
    )
    assert out == {"t": "héllo wörld\n"}


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param("secret.txt", id="outside"),
        pytest.param("allowed/../secret.txt", id="dot-dot"),
        pytest.param("allowed/sub/../../secret.txt", id="nested-dot-dot"),
        pytest.param("allowed/sub/../hello.txt", id="dot-dot-staying-inside"),
        pytest.param("allowed/link-out", id="symlink-to-outside-file"),
        pytest.param("allowed/dir-link/secret.txt", id="symlink-to-outside-directory"),
        pytest.param("allowed-sibling/x.txt", id="sibling-with-common-prefix"),
    ],
)
async def test_read_outside_allowed_paths_is_denied(pool: JsPool, tree: Path, relative: str) -> None:
    path = f"{tree}/{relative}"
    with pytest.raises(JsScriptError) as caught:
        await run(pool, f"await readFile({path!r});", permissions={"read": [str(tree / "allowed")]})
    assert caught.value.js_message == f"Permission denied: read access to '{path}'"


async def test_read_without_permission_is_denied_and_catchable(pool: JsPool, tree: Path) -> None:
    out = await run(
        pool,
        "try { await readFile(inputs().p); } catch (e) { output('error', e.message); }",
        data={"p": str(tree / "allowed" / "hello.txt")},
    )
    assert out == {"error": f"Permission denied: read access to '{tree / 'allowed' / 'hello.txt'}'"}


async def test_missing_file_reports_why(pool: JsPool, tree: Path) -> None:
    with pytest.raises(JsScriptError, match="Failed to read file .*No such file"):
        await run(
            pool, f"await readFile({str(tree / 'allowed' / 'nope.txt')!r})", permissions={"read": [str(tree)]}
        )


@pytest.mark.parametrize(
    "call",
    [
        "Deno.writeTextFile('/tmp/x', 'y')",
        "Deno.writeFile('/tmp/x', new Uint8Array(1))",
        "Deno.remove('/tmp/x')",
        "Deno.mkdir('/tmp/x')",
    ],
)
async def test_writes_are_denied(pool: JsPool, tmp_path: Path, call: str) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: write access to '/tmp/x'"):
        await run(pool, f"await {call};", permissions={"write": [str(tmp_path)]})


async def test_env_only_through_allowlist_and_config(pool: JsPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFE_JS_ALLOWED", "visible")
    monkeypatch.setenv("WFE_JS_SECRET", "hidden")
    monkeypatch.delenv("WFE_JS_UNSET", raising=False)
    out = await run(
        pool,
        """
        output("allowed", Deno.env.get("WFE_JS_ALLOWED"));
        output("config", Wfe.env.get("FROM_CONFIG"));
        output("unset", Deno.env.get("WFE_JS_UNSET") === undefined);
        output("all", Deno.env.toObject());
        try { Deno.env.get("WFE_JS_SECRET"); } catch (e) { output("secret", e.message); }
        try { Deno.env.get("PATH"); } catch (e) { output("path", e.message); }
        try { Deno.env.set("X", "1"); } catch (e) { output("set", e.message); }
        """,
        permissions={"env": ["WFE_JS_ALLOWED", "WFE_JS_UNSET"]},
        env={"FROM_CONFIG": "cfg"},
    )
    assert out == {
        "allowed": "visible",
        "config": "cfg",
        "unset": True,
        "all": {"WFE_JS_ALLOWED": "visible", "FROM_CONFIG": "cfg"},
        "secret": "Permission denied: env access to 'WFE_JS_SECRET'",
        "path": "Permission denied: env access to 'PATH'",
        "set": "Permission denied: env access to 'X'",
    }


async def test_no_global_exposes_the_host(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        for (const name of ["process", "require", "module", "Bun", "os", "fs", "child_process", "__dirname",
                            "importScripts", "XMLHttpRequest", "WebSocket", "Worker"]) {
          output(name, typeof globalThis[name]);
        }
        output("requireArg", typeof require);
        """,
    )
    assert all(out[name] == "undefined" for name in out if name != "requireArg")
    # `require` exists only as the module loader, which refuses everything without dynamic_import.
    assert out["requireArg"] == "function"


async def test_require_without_permission_is_denied(pool: JsPool) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: import access to 'child_process'"):
        await run(pool, "require('child_process')")


@pytest.mark.parametrize(
    "call",
    ["Deno.run({cmd: ['ls']})", "new Deno.Command('ls')"],
)
async def test_subprocesses_are_denied(pool: JsPool, call: str) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: run access to 'ls'"):
        await run(pool, f"{call};", permissions={"run": True})


async def test_worker_process_has_no_host_secrets(pool: JsPool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Even the worker process itself never receives the host's environment.
    monkeypatch.setenv("WFE_JS_WORKER_SECRET", "s3cret")
    async with JsPool(size=1) as own:
        await own.run("1", timeout=10)
        worker = next(iter(own._idle or own._busy))
        environ = await asyncio.to_thread(Path(f"/proc/{worker.process.pid}/environ").read_bytes)
    assert b"WFE_JS_WORKER_SECRET" not in environ
    assert os.environ["WFE_JS_WORKER_SECRET"] == "s3cret"
