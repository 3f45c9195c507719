"""Group commit: writes asked for while a batch is in flight go to the database together in the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(slots=True)
class _Waiting(Generic[Item, Result]):
    item: Item
    key: Hashable
    future: asyncio.Future[Result]


class GroupCommit(Generic[Item, Result]):
    """Hands waiting items to ``write_batch`` in batches, one batch in flight at a time.

    An idle writer sends an item at once (no added latency); under load, items pile up while a batch is in
    flight and the next batch takes them all, so many callers share one round trip and one commit.

    ``write_batch`` gets a batch and returns one outcome per item (a result or the exception that item's caller
    gets). When it raises instead, nothing of the batch is assumed written: each item is then written in a
    batch of its own, so one bad item fails only its own caller. Writes must be idempotent, since a batch whose
    commit was lost with the connection is written again that way. Items with the same ``key`` never share a
    batch: a later one waits for the next, so the database sees them in the order they were asked for.
    Reads that many callers ask for at once (loading instances) are batched the same way: one query for all.
    """

    def __init__(
        self,
        write_batch: Callable[[Sequence[Item]], Awaitable[list[Result | BaseException]]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._waiting: list[_Waiting[Item, Result]] = []
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def write(self, item: Item, key: Hashable) -> Result:
        """Write ``item`` with the next batch and return its outcome.

        Cancelling the caller does not withdraw an item already handed over: it is written all the same."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # a provider used from a new event loop: whatever the old loop left behind died with it
            self._loop, self._waiting, self._writer = loop, [], None
        waiting: _Waiting[Item, Result] = _Waiting(item, key, loop.create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        # Not shielded: a cancelled caller cancels only its future, which the writer then leaves alone; the
        # item stays in its batch.
        return await waiting.future

    async def settle(self, timeout: float | None = None) -> bool:
        """Return once every item handed over so far is written (or has failed), or after ``timeout`` seconds:
        a provider that gives its pool back waits for this first, so nothing it was asked to write reaches the
        database after it stopped. True when nothing is left in flight. Cancelling the wait, or its timeout,
        does not cancel the writes."""
        writer = self._writer
        if writer is None or writer.done() or self._loop is not asyncio.get_running_loop():
            return True
        done, _ = await asyncio.wait({writer}, timeout=timeout)
        return bool(done)

    def _next_batch(self) -> list[_Waiting[Item, Result]]:
        batch: list[_Waiting[Item, Result]] = []
        later: list[_Waiting[Item, Result]] = []
        keys: set[Hashable] = set()
        for waiting in self._waiting:
            if len(batch) < self._max_batch and waiting.key not in keys:
                keys.add(waiting.key)
                batch.append(waiting)
            else:
                later.append(waiting)
        self._waiting = later
        return batch

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._next_batch()
            try:
                outcomes = await self._written(batch)
            except BaseException as exc:  # cancelled with the loop: the callers learn why
                for waiting in batch + self._waiting:
                    if waiting.future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        waiting.future.cancel()
                    else:
                        waiting.future.set_exception(exc)
                self._waiting = []
                raise
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if waiting.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(outcome)
            # a caller that was cancelled never retrieves its exception; mark it seen
            for waiting in batch:
                if waiting.future.done() and not waiting.future.cancelled():
                    waiting.future.exception()

    async def _written(self, batch: list[_Waiting[Item, Result]]) -> list[Result | BaseException]:
        items = [w.item for w in batch]
        try:
            return await self._write_batch(items)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
        # nothing of the batch was written: each item alone, so one bad item fails only its own caller
        outcomes: list[Result | BaseException] = []
        for item in items:
            try:
                outcomes.extend(await self._write_batch([item]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes
