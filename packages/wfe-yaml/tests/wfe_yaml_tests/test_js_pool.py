"""The worker pool: data in and out, errors with lines, and scripts that must be stopped without harming the host."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from wfe_yaml.js import (
    JsMemoryLimitError,
    JsPool,
    JsScriptError,
    JsTimeoutError,
    JsWorkerCrashedError,
)
from wfe_yaml.js.pool import MIN_MEMORY_LIMIT
from wfe_yaml.js.pool_worker import _Worker
from wfe_yaml.js.worker import MAX_LOG_CHARS, MAX_LOG_LINES

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


async def assert_pool_works(pool: JsPool) -> None:
    result = await pool.run("output('alive', inputs().n * 2)", data={"n": 21}, timeout=10)
    assert result.outputs == {"alive": 42}


async def test_outputs_and_inputs_round_trip_nested_json_and_unicode(pool: JsPool) -> None:
    data = {
        "name": "Zoë 😀 \u2028 line",
        "nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}], "empty": {}},
        "n": 7,
    }
    result = await pool.run(
        """
        const d = inputs();
        output("copy", d);
        Wfe.setOutput("same", JSON.stringify(Wfe.getData()) === JSON.stringify(d));
        output("greeting", `hello ${d.name}`);
        output("undef", undefined);
        output("date", new Date(Date.UTC(2020, 0, 2)));
        """,
        data=data,
        timeout=10,
    )
    assert result.outputs == {
        "copy": data,
        "same": True,
        "greeting": "hello Zoë 😀 \u2028 line",
        "undef": None,
        "date": "2020-01-02T00:00:00.000Z",
    }


async def test_large_integers_follow_json_number_semantics(pool: JsPool) -> None:
    result = await pool.run(
        "output('big', 2 ** 60); output('safe', Number.MAX_SAFE_INTEGER); output('echo', inputs().n)",
        data={"n": 2**53 + 1},
        timeout=10,
    )
    assert result.outputs is not None
    # Numbers are IEEE doubles in JavaScript: past 2**53 they keep only 53 bits of precision.
    assert result.outputs["safe"] == 2**53 - 1
    assert result.outputs["big"] == 2**60
    assert result.outputs["echo"] == 2**53


async def test_script_without_output_calls_has_no_outputs(pool: JsPool) -> None:
    result = await pool.run("const x = 1 + 1;", timeout=10)
    assert result.outputs is None


@pytest.mark.parametrize("script", ["", "// only a comment", "#!/usr/bin/env -S deno run\n"])
async def test_empty_scripts_complete_without_outputs(pool: JsPool, script: str) -> None:
    assert (await pool.run(script, timeout=10)).outputs is None


async def test_shebang_line_keeps_line_numbers(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("#!/usr/bin/env -S deno run\nthrow new Error('second')", timeout=10)
    assert caught.value.line == 2


async def test_last_output_per_key_wins(pool: JsPool) -> None:
    result = await pool.run("output('k', 1); output('k', 2); Wfe.setOutput('k', 3)", timeout=10)
    assert result.outputs == {"k": 3}


async def test_thrown_error_fails_with_message_and_line(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("const a = 1;\nconst b = 2;\nthrow new Error('boom ' + (a + b));\n", timeout=10)
    assert caught.value.js_message == "boom 3"
    assert caught.value.line == 3
    assert "boom 3" in str(caught.value) and "line 3" in str(caught.value)


async def test_error_after_await_reports_its_line(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("await new Promise(r => setTimeout(r, 5));\n\nnull.x;\n", timeout=10)
    assert caught.value.name == "TypeError"
    assert caught.value.line == 3


async def test_syntax_error_reports_line(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("let ok = 1;\nlet broken = ;\n", timeout=10)
    assert caught.value.name == "SyntaxError"
    assert caught.value.line == 2


async def test_thrown_non_error_value_fails_the_run(pool: JsPool) -> None:
    with pytest.raises(JsScriptError, match="Uncaught"):
        await pool.run("throw 'plain string';", timeout=10)


async def test_error_thrown_in_timer_callback_fails_the_run(pool: JsPool) -> None:
    with pytest.raises(JsScriptError, match="late"):
        await pool.run("setTimeout(() => { throw new Error('late') }, 1);", timeout=10)


async def test_console_and_log_are_captured_and_streamed(pool: JsPool) -> None:
    streamed: list[tuple[str, str]] = []
    result = await pool.run(
        "console.log('a', 1, {x: [2]}); console.error('bad'); console.warn('careful'); log('step'); Wfe.log('w');",
        timeout=10,
        on_log=lambda stream, text: streamed.append((stream, text)),
    )
    expected = [
        ("stdout", 'a 1 {"x":[2]}'),
        ("stderr", "bad"),
        ("stderr", "careful"),
        ("log", "step"),
        ("log", "w"),
    ]
    assert result.logs == expected
    assert streamed == expected


async def test_logs_of_a_failed_run_are_kept(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("console.log('before'); throw new Error('x')", timeout=10)
    assert caught.value.logs == [("stdout", "before")]


async def test_no_state_leaks_between_runs(pool: JsPool) -> None:
    await pool.run("globalThis.leak = 42; var alsoLeak = 1; Object.prototype.polluted = true;", timeout=10)
    result = await pool.run(
        "output('leak', typeof leak); output('also', typeof alsoLeak); output('proto', ({}).polluted === undefined)",
        timeout=10,
    )
    assert result.outputs == {"leak": "undefined", "also": "undefined", "proto": True}


async def test_internal_helpers_are_not_reachable(pool: JsPool) -> None:
    result = await pool.run(
        "output('start', typeof __wfe_start); output('bridge', typeof bridge); output('setup', typeof setup)",
        timeout=10,
    )
    assert result.outputs == {"start": "undefined", "bridge": "undefined", "setup": "undefined"}


async def test_workers_are_reused_between_runs(pool: JsPool) -> None:
    await assert_pool_works(pool)
    await asyncio.sleep(0.05)
    first = {w.process.pid for w in pool._idle}
    await assert_pool_works(pool)
    await asyncio.sleep(0.05)
    assert first and first == {w.process.pid for w in pool._idle}


async def test_warm_run_is_fast(pool: JsPool) -> None:
    await assert_pool_works(pool)
    started = time.perf_counter()
    for _ in range(10):
        await pool.run("output('a', 1)", timeout=10)
    # The target is < 10 ms per step; leave room for a busy, shared machine.
    assert (time.perf_counter() - started) / 10 < 0.1


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("while (true) {}", id="sync-spin"),
        pytest.param("await null; while (true) {}", id="spin-after-await"),
        pytest.param("await new Promise(r => setTimeout(r, 10)); for (;;) {}", id="spin-after-timer"),
        pytest.param("log('x'); while (true) {}", id="spin-after-log-call"),
        pytest.param("setTimeout(() => { while (true) {} }, 1); output('a', 1);", id="spin-in-timer"),
        pytest.param("await new Promise(() => {});", id="never-settles"),
        pytest.param("setInterval(() => {}, 5);", id="interval-keeps-running"),
    ],
)
async def test_runaway_script_is_stopped_within_timeout(pool: JsPool, script: str) -> None:
    started = time.monotonic()
    with pytest.raises(JsTimeoutError, match="timed out after 0.5s"):
        await pool.run(script, timeout=0.5)
    assert time.monotonic() - started < 1.5
    await assert_pool_works(pool)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("const a = []; while (true) a.push(new Array(100000).fill(1.5));", id="arrays"),
        pytest.param(
            "await 0; const a = []; while (true) a.push(new Array(100000).fill(1.5));", id="arrays-async"
        ),
        pytest.param(
            "const a = []; while (true) a.push(new Uint8Array(2 ** 26).fill(1));", id="filled-buffers"
        ),
        pytest.param("const a = []; for (;;) a.push(new ArrayBuffer(2 ** 24));", id="array-buffers"),
        pytest.param("let s = 'x'; while (true) s = s + s;", id="string-doubling"),
        pytest.param(
            "const m = new Map(); for (let i = 0; ; i++) m.set(i, {i, s: 'v' + i});", id="map-objects"
        ),
    ],
)
async def test_memory_bomb_is_stopped_without_harming_the_host(pool: JsPool, script: str) -> None:
    started = time.monotonic()
    # Whichever limit comes first stops it: the heap limit, the RSS watch, a refused allocation, or (for a
    # slowly growing heap on a loaded machine) the timeout.
    with pytest.raises((JsMemoryLimitError, JsScriptError, JsTimeoutError)) as caught:
        await pool.run(script, timeout=5)
    assert time.monotonic() - started < 6
    if isinstance(caught.value, JsScriptError):
        # V8 refusing one allocation is a catchable RangeError, which fails the step like any other error.
        assert caught.value.name == "RangeError"
    await assert_pool_works(pool)


async def test_v8_fatal_out_of_memory_fails_only_that_step() -> None:
    # The smallest pool a worker fits in: the script reaches its limit after a few dozen MiB of allocation,
    # a fraction of a second of CPU, so a loaded machine cannot stretch it past the timeout. What the test pins
    # is that the death is seen as what it is (memory, or the worker's crash), never as a timeout.
    async with JsPool(size=1, memory_limit=MIN_MEMORY_LIMIT) as small:
        started = time.monotonic()
        with pytest.raises((JsWorkerCrashedError, JsMemoryLimitError)):
            await small.run(
                "const a = new Array(2 ** 26).fill(0.5); const b = new Array(2 ** 27).fill(0.5);", timeout=8
            )
        assert time.monotonic() - started < 9
        await assert_pool_works(small)


async def test_worker_killed_from_outside_fails_the_step(pool: JsPool) -> None:
    # Killed once the script runs (it says so), however long the worker took to start or to be handed back.
    def kill_when_running(stream: str, text: str) -> None:
        os.kill(next(iter(pool._busy)).process.pid, 9)

    with pytest.raises(JsWorkerCrashedError, match="killed by SIGKILL"):
        await pool.run(
            "console.log('running'); await new Promise(r => setTimeout(r, 5000));",
            timeout=10,
            on_log=kill_when_running,
        )
    await assert_pool_works(pool)


async def test_cancellation_stops_the_script() -> None:
    class Signal:
        def __init__(self) -> None:
            self.event = asyncio.Event()

        async def wait(self) -> None:
            await self.event.wait()

    signal = Signal()
    cancelled_at: list[float] = []

    def cancel_when_running(stream: str, text: str) -> None:
        # Once the script runs, however long its worker took to start.
        cancelled_at.append(time.monotonic())
        signal.event.set()

    async with JsPool(size=1) as own:
        with pytest.raises(Exception, match="cancelled"):
            await own.run(
                "console.log('running'); await new Promise(r => setTimeout(r, 100)); while (true) {}",
                timeout=30,
                cancellation=signal,
                on_log=cancel_when_running,
            )
        assert time.monotonic() - cancelled_at[0] < 2
        await assert_pool_works(own)


async def test_task_cancellation_kills_the_worker() -> None:
    async with JsPool(size=1) as own:
        task = asyncio.create_task(own.run("while (true) {}", timeout=30))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not own._busy
        await assert_pool_works(own)


async def test_a_cancel_that_lands_with_a_new_workers_ready_frame_ends_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that starts a worker, cancelled on the turn of the loop that brings the worker's "ready" frame,
    ends cancelled at once (Python 3.11's wait_for returned the frame and dropped such a cancel, and the script
    then ran to its timeout)."""
    read = _Worker._read
    run: asyncio.Task[Any] | None = None
    frames = 0

    async def reading(worker: _Worker) -> dict[str, Any]:
        nonlocal frames
        frame = await read(worker)
        frames += 1
        if frames == 1:  # the worker's "ready": the cancel comes with it
            assert run is not None and frame.get("op") == "ready"
            asyncio.get_running_loop().call_soon(run.cancel)
        return frame

    monkeypatch.setattr(_Worker, "_read", reading)
    async with JsPool(size=1) as own:
        run = asyncio.create_task(own.run("while (true) {}", timeout=20))
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert time.monotonic() - started < 10
        assert frames >= 1 and not own._busy


async def test_pool_runs_scripts_concurrently_up_to_its_size() -> None:
    async with JsPool(size=2) as own:
        await asyncio.gather(assert_pool_works(own), assert_pool_works(own))
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                own.run(
                    "await new Promise(r => setTimeout(r, 400)); output('i', inputs())", data=i, timeout=10
                )
                for i in range(4)
            )
        )
        elapsed = time.monotonic() - started
    assert [r.outputs for r in results] == [{"i": i} for i in range(4)]
    # Two at a time: about two rounds of 400 ms, not one (size 4) nor four (size 1).
    assert 0.75 < elapsed < 3.0


async def test_closed_pool_refuses_runs() -> None:
    own = JsPool(size=1)
    await assert_pool_works(own)
    await asyncio.sleep(0.05)
    processes = [worker.process for worker in [*own._idle, *own._busy]]
    await own.close()
    assert processes and all(process.returncode is not None for process in processes)
    with pytest.raises(RuntimeError, match="closed"):
        await own.run("1", timeout=5)


async def test_many_log_lines_arrive_in_order_and_fast(pool: JsPool) -> None:
    streamed: list[str] = []
    started = time.monotonic()
    result = await pool.run(
        "for (let i = 0; i < 20000; i++) console.log('line', i); await null; log('after');",
        timeout=10,
        on_log=lambda stream, text: streamed.append(text),
    )
    assert time.monotonic() - started < 3
    assert streamed == [f"line {i}" for i in range(20000)] + ["after"]
    assert result.logs[-1] == ("log", "after")


async def test_kept_logs_are_bounded_but_all_are_streamed(pool: JsPool) -> None:
    count = 0

    def on_log(stream: str, text: str) -> None:
        nonlocal count
        count += 1

    result = await pool.run(
        "const big = 'x'.repeat(10000); for (let i = 0; i < 300; i++) console.log(i, big);",
        timeout=10,
        on_log=on_log,
    )
    assert count == 300
    assert result.logs[0][1].endswith("earlier log lines not kept]")
    assert sum(len(text) for _, text in result.logs) <= 1024 * 1024 + 100
    assert result.logs[-1][1].startswith("299 ")


async def test_overlong_log_line_is_truncated(pool: JsPool) -> None:
    result = await pool.run("console.log('y'.repeat(100000))", timeout=10)
    ((stream, text),) = result.logs
    assert text.startswith("y" * 65536) and text.endswith("[34464 more characters]")


async def test_large_data_round_trips(pool: JsPool) -> None:
    data = {"rows": [{"id": i, "text": "é" * 100} for i in range(20000)]}
    result = await pool.run(
        "const d = inputs(); output('n', d.rows.length); output('d', d);", data=data, timeout=20
    )
    assert result.outputs == {"n": 20000, "d": data}


async def test_error_in_log_callback_reaches_the_caller(pool: JsPool) -> None:
    class SinkBroke(Exception):
        pass

    def on_log(stream: str, text: str) -> None:
        raise SinkBroke(text)

    with pytest.raises(SinkBroke, match="hello"):
        await pool.run(
            "console.log('hello'); await new Promise(r => setTimeout(r, 50));", timeout=10, on_log=on_log
        )
    await assert_pool_works(pool)


async def test_log_lines_arrive_while_the_script_runs(pool: JsPool) -> None:
    arrivals: list[float] = []
    await pool.run(
        "console.log('early'); await new Promise(r => setTimeout(r, 500)); console.log('late');",
        timeout=10,
        on_log=lambda stream, text: arrivals.append(time.monotonic()),
    )
    finished = time.monotonic()
    assert len(arrivals) == 2
    assert finished - arrivals[0] > 0.4


async def test_memory_limit_below_what_a_worker_needs_is_refused() -> None:
    with pytest.raises(ValueError, match="memory_limit must be at least 128 MiB"):
        JsPool(memory_limit=MIN_MEMORY_LIMIT - 1)


async def test_smallest_memory_limit_runs_javascript_and_typescript_steps() -> None:
    async with JsPool(size=1, memory_limit=MIN_MEMORY_LIMIT) as own:
        await assert_pool_works(own)
        result = await own.run(
            "interface D { n: number }\nconst d = inputs() as D;\n"
            "for (let i = 0; i < 1000; i++) console.log('line', i);\noutput('n', d.n + 1);",
            data={"n": 1},
            timeout=30,
        )
        assert result.outputs == {"n": 2}


async def test_a_log_flood_stops_at_the_step_log_cap_and_says_so(pool: JsPool) -> None:
    streamed: list[str] = []
    result = await pool.run(
        "for (let i = 0; i < 300000; i++) console.log('line', i); output('done', true);",
        timeout=60,
        on_log=lambda stream, text: streamed.append(text),
    )
    assert result.outputs == {"done": True}
    assert len(streamed) == MAX_LOG_LINES + 2
    assert streamed[MAX_LOG_LINES - 1] == f"line {MAX_LOG_LINES - 1}"
    assert streamed[MAX_LOG_LINES] == (
        f"[log limit reached: a step logs at most {MAX_LOG_LINES} lines and 16 MiB; later lines are dropped]"
    )
    assert streamed[-1] == f"[{300000 - MAX_LOG_LINES} log lines dropped over the step's log limit]"


async def test_long_log_lines_stop_at_the_step_log_size_cap(pool: JsPool) -> None:
    streamed: list[str] = []
    await pool.run(
        "const big = 'x'.repeat(60000); for (let i = 0; i < 1000; i++) console.log(big);",
        timeout=60,
        on_log=lambda stream, text: streamed.append(text),
    )
    kept = [text for text in streamed if not text.startswith("[")]
    assert len(kept) == MAX_LOG_CHARS // 60000
    assert streamed[-2].startswith("[log limit reached")
    assert streamed[-1] == f"[{1000 - len(kept)} log lines dropped over the step's log limit]"


async def test_an_output_flood_fails_at_the_output_cap_where_it_is_set(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("const big = 'a'.repeat(70 * 1024 * 1024);\noutput('big', big);", timeout=60)
    assert caught.value.name == "RangeError"
    assert caught.value.js_message == "outputs too large: 71 MiB of JSON, the limit is 64 MiB"
    assert caught.value.line == 2
    await assert_pool_works(pool)


async def test_outputs_add_up_against_the_output_cap_but_a_replaced_value_counts_once(pool: JsPool) -> None:
    result = await pool.run(
        "const mib = 'a'.repeat(1024 * 1024); for (let i = 0; i < 100; i++) output('same', mib);"
        "output('same', 1);",
        timeout=60,
    )
    assert result.outputs == {"same": 1}
    with pytest.raises(JsScriptError, match="outputs too large: 65 MiB of JSON, the limit is 64 MiB"):
        await pool.run(
            "const mib = 'a'.repeat(1024 * 1024); for (let i = 0; i < 100; i++) output('k' + i, mib);",
            timeout=60,
        )
