"""The web APIs V8 lacks and the prelude supplies: timers, TextEncoder/TextDecoder, URL, atob/btoa."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from wfe_yaml.js import JsPool, JsScriptError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


async def run(pool: JsPool, script: str) -> dict[str, Any]:
    result = await pool.run(script, timeout=10)
    return result.outputs or {}


async def test_set_timeout_fires_in_order_including_zero_and_missing_delay(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        const seen = [];
        setTimeout(() => seen.push("30"), 30);
        setTimeout(() => seen.push("0"), 0);
        setTimeout(() => seen.push("none"));
        setTimeout((a, b) => seen.push(a + b), 10, "ar", "gs");
        await new Promise(r => setTimeout(r, 60));
        output("seen", seen);
        """,
    )
    assert out["seen"][-2:] == ["args", "30"]
    assert sorted(out["seen"][:2]) == ["0", "none"]


async def test_set_timeout_waits_roughly_its_delay(pool: JsPool) -> None:
    started = time.monotonic()
    out = await run(
        pool,
        "const t0 = Date.now(); await new Promise(r => setTimeout(r, 150)); output('d', Date.now() - t0)",
    )
    assert 140 <= out["d"] < 1000
    assert time.monotonic() - started >= 0.14


async def test_clear_timeout_and_interval(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        let fired = false, ticks = 0;
        const id = setTimeout(() => { fired = true; }, 20);
        clearTimeout(id);
        const iv = setInterval(() => { ticks++; if (ticks === 3) clearInterval(iv); }, 5);
        await new Promise(r => setTimeout(r, 80));
        output("fired", fired); output("ticks", ticks);
        """,
    )
    assert out == {"fired": False, "ticks": 3}


async def test_pending_timers_run_before_the_step_ends(pool: JsPool) -> None:
    out = await run(pool, "setTimeout(() => output('late', true), 50); output('early', true);")
    assert out == {"early": True, "late": True}


async def test_queue_microtask(pool: JsPool) -> None:
    out = await run(
        pool, "const s = []; queueMicrotask(() => s.push(2)); s.push(1); await null; output('s', s)"
    )
    assert out == {"s": [1, 2]}


async def test_text_encoder_and_decoder_round_trip_utf8(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        const bytes = new TextEncoder().encode("aé€😀");
        output("bytes", Array.from(bytes));
        output("text", new TextDecoder().decode(bytes));
        output("lone", Array.from(new TextEncoder().encode("\\ud800")));
        output("invalid", new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])));
        output("bom", new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])));
        output("buffer", new TextDecoder("utf-8").decode(new TextEncoder().encode("xyz").buffer));
        try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xc3])); }
        catch (e) { output("fatal", e.name); }
        const target = new Uint8Array(3);
        output("into", new TextEncoder().encodeInto("abcd", target));
        """,
    )
    assert out["bytes"] == list("aé€😀".encode())
    assert out["text"] == "aé€😀"
    assert out["lone"] == [0xEF, 0xBF, 0xBD]
    assert out["invalid"] == "a\ufffdb"
    assert out["bom"] == "A"
    assert out["buffer"] == "xyz"
    assert out["fatal"] == "TypeError"
    assert out["into"] == {"read": 4, "written": 3}


async def test_atob_and_btoa(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        output("b", btoa("hello world"));
        output("a", atob("aGVsbG8gd29ybGQ="));
        output("pad1", btoa("ab")); output("pad2", btoa("a"));
        output("binary", atob(btoa("\\x00\\xff\\x80")).split("").map(c => c.charCodeAt(0)));
        output("spaces", atob(" aGk = "));
        try { btoa("€"); } catch (e) { output("wide", e.name); }
        try { atob("a"); } catch (e) { output("bad", e.name); }
        """,
    )
    assert out == {
        "b": "aGVsbG8gd29ybGQ=",
        "a": "hello world",
        "pad1": "YWI=",
        "pad2": "YQ==",
        "binary": [0, 255, 128],
        "spaces": "hi",
        "wide": "InvalidCharacterError",
        "bad": "InvalidCharacterError",
    }


async def test_url_parsing_and_properties(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        const u = new URL("HTTPS://user:pw@Example.COM:443/a/./b/../c?x=1&y=two%20words#frag");
        output("u", { href: u.href, protocol: u.protocol, host: u.host, hostname: u.hostname, port: u.port,
                      pathname: u.pathname, search: u.search, hash: u.hash, origin: u.origin,
                      username: u.username, password: u.password });
        output("y", u.searchParams.get("y"));
        const p = new URL("http://127.0.0.1:8080/api");
        output("port", p.port); output("host", p.host);
        output("rel", new URL("../x?q#h", "http://h.test/a/b/c").href);
        output("abs", new URL("/root", "http://h.test/a/b").href);
        output("proto", new URL("//other.test/p", "https://h.test/").href);
        output("json", JSON.stringify({ u: new URL("http://h.test") }));
        const s = new URL("http://h.test/p");
        s.searchParams.append("k", "a b&c"); s.searchParams.append("k", "2");
        output("appended", s.href); output("all", s.searchParams.getAll("k"));
        s.search = "?z=9"; output("z", s.searchParams.get("z"));
        output("canParse", [URL.canParse("nope"), URL.canParse("rel", "http://h.test/")]);
        try { new URL("not a url"); } catch (e) { output("invalid", e.name); }
        """,
    )
    assert out["u"] == {
        "href": "https://user:pw@example.com/a/c?x=1&y=two%20words#frag",
        "protocol": "https:",
        "host": "example.com",
        "hostname": "example.com",
        "port": "",
        "pathname": "/a/c",
        "search": "?x=1&y=two%20words",
        "hash": "#frag",
        "origin": "https://example.com",
        "username": "user",
        "password": "pw",
    }
    assert out["y"] == "two words"
    assert out["port"] == "8080" and out["host"] == "127.0.0.1:8080"
    assert out["rel"] == "http://h.test/a/x?q#h"
    assert out["abs"] == "http://h.test/root"
    assert out["proto"] == "https://other.test/p"
    assert out["json"] == '{"u":"http://h.test/"}'
    assert out["appended"] == "http://h.test/p?k=a+b%26c&k=2"
    assert out["all"] == ["a b&c", "2"]
    assert out["z"] == "9"
    assert out["canParse"] == [False, True]
    assert out["invalid"] == "TypeError"


async def test_url_search_params_standalone(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        const p = new URLSearchParams("?a=1&b=x+y&a=2");
        p.set("c", "3"); p.delete("b");
        output("s", p.toString()); output("a", p.getAll("a")); output("has", p.has("c"));
        output("obj", new URLSearchParams({ q: "r s" }).toString());
        output("entries", [...new URLSearchParams([["k", "v"]])]);
        """,
    )
    assert out == {"s": "a=1&a=2&c=3", "a": ["1", "2"], "has": True, "obj": "q=r+s", "entries": [["k", "v"]]}


async def test_headers_class(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        const h = new Headers({ "Content-Type": "text/plain" });
        h.append("X-A", "1"); h.append("x-a", "2");
        output("ct", h.get("content-type")); output("xa", h.get("X-A")); output("keys", [...h.keys()]);
        """,
    )
    assert out == {"ct": "text/plain", "xa": "1, 2", "keys": ["content-type", "x-a"]}


async def test_console_formats_values(pool: JsPool) -> None:
    result = await pool.run(
        "const c = {}; c.self = c; console.log(c, 1n, undefined, null, () => 1, [1, 'a']);", timeout=10
    )
    assert result.logs == [("stdout", '{"self":"[Circular]"} 1n undefined null [Function anonymous] [1,"a"]')]


async def test_intl_and_modern_builtins_are_available(pool: JsPool) -> None:
    out = await run(
        pool,
        """
        output("num", new Intl.NumberFormat("de-DE").format(1234.5));
        output("sorted", [3, 1, 2].toSorted());
        output("grouped", Object.groupBy([1, 2, 3], x => x % 2 ? "odd" : "even"));
        """,
    )
    assert out == {"num": "1.234,5", "sorted": [1, 2, 3], "grouped": {"odd": [1, 3], "even": [2]}}


async def test_top_level_return_ends_the_script(pool: JsPool) -> None:
    out = await run(pool, "output('a', 1); if (true) return; output('b', 2);")
    assert out == {"a": 1}


async def test_unsupported_text_decoder_label(pool: JsPool) -> None:
    with pytest.raises(JsScriptError, match="RangeError"):
        await run(pool, "new TextDecoder('latin1')")


async def test_console_helpers(pool: JsPool) -> None:
    result = await pool.run(
        "console.count(); console.count(); console.count('x'); console.time('t'); console.timeEnd('t');"
        "console.group('g'); console.groupEnd(); console.info('i'); console.debug('d');",
        timeout=10,
    )
    texts = [text for _, text in result.logs]
    assert texts[:3] == ["default: 1", "default: 2", "x: 1"]
    assert texts[3].startswith("t: ") and texts[3].endswith("ms")
    assert texts[4:] == ["g", "i", "d"]
