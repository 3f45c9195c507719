"""The default pool of an event loop closes with the loop: no worker outlives it or is left unreaped."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
import warnings

import pytest

from wfe_yaml.js import JsPool, default_pool
from wfe_yaml.js.process import ChildProcess


def test_the_default_pool_closes_with_its_event_loop() -> None:
    """Closed as the loop shuts down, its workers' exits collected in that loop: also a worker still on its way
    back to the pool (its task cancelled by the shutdown)."""

    async def use() -> tuple[JsPool, list[ChildProcess]]:
        pool = default_pool()
        await asyncio.gather(pool.run("output('n', 1)"), pool.run("output('n', 2)"))
        return pool, [worker.process for worker in [*pool._idle, *pool._busy]]

    pool, processes = asyncio.run(use())
    assert pool._closed
    assert len(processes) == 2
    assert all(process.returncode is not None for process in processes)


def test_each_loop_gets_a_pool_of_its_own() -> None:
    async def pool_of_this_loop() -> JsPool:
        pool = default_pool()
        assert default_pool() is pool
        await pool.run("output('n', 1)")
        return pool

    first, second = asyncio.run(pool_of_this_loop()), asyncio.run(pool_of_this_loop())
    assert first is not second and first._closed and second._closed


async def _run_two(pool: JsPool) -> list[ChildProcess]:
    await asyncio.gather(pool.run("output('n', 1)"), pool.run("output('n', 2)"))
    return [worker.process for worker in [*pool._idle, *pool._busy]]


async def _run_and_close(pool: JsPool) -> None:
    try:
        assert (await pool.run("output('n', 3)")).outputs == {"n": 3}
    finally:
        await pool.close()


def _collected(processes: list[ChildProcess]) -> list[int | None]:
    deadline = time.monotonic() + 30
    while any(process.returncode is None for process in processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    for process in processes:
        with pytest.raises(ChildProcessError):  # reaped: no zombie left, and nobody else can collect it
            os.waitpid(process.pid, os.WNOHANG)
    return [process.returncode for process in processes]


def test_a_pool_releases_its_workers_as_their_loop_shuts_down_and_goes_on_in_the_next() -> None:
    pool = JsPool(size=2)
    old = asyncio.run(_run_two(pool))
    assert len(old) == 2
    # They were stopped as the loop shut down (one still on its way back to the pool is killed), and the pool
    # collected their exits: someone else reaping them would have left 255 here.
    assert set(_collected(old)) <= {0, -signal.SIGKILL}
    asyncio.run(_run_and_close(pool))


def test_a_pool_moved_on_from_a_loop_closed_without_shutdown_kills_and_reaps_its_old_workers() -> None:
    pool = JsPool(size=2)
    loop = asyncio.new_event_loop()
    try:
        old = loop.run_until_complete(_run_two(pool))
    finally:
        loop.close()  # no shutdown_asyncgens(): the old loop never released its workers
    assert len(old) == 2 and all(process.returncode is None for process in old)
    with warnings.catch_warnings():
        # What the closed loop left behind (its pipe transports, the task that was handing a worker back) is
        # finalized here, without that loop, and asyncio says so.
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        asyncio.run(_run_and_close(pool))
        returncodes = _collected(old)
        del old, loop, pool
        gc.collect()
    assert returncodes == [-signal.SIGKILL, -signal.SIGKILL]
