"""The default pool of an event loop closes with the loop: no worker outlives it or is left unreaped."""

from __future__ import annotations

import asyncio

from wfe_yaml.js import JsPool, default_pool


def test_the_default_pool_closes_with_its_event_loop() -> None:
    """Closed as the loop shuts down, its workers' exits collected in that loop: also a worker still on its way
    back to the pool (its task cancelled by the shutdown)."""

    async def use() -> tuple[JsPool, list[asyncio.subprocess.Process]]:
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
