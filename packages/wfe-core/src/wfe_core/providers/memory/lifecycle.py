"""MemoryLifecycleHub: lifecycle events between hubs of one process that share a channel name."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import weakref
from collections import deque
from typing import Any, Self

from wfe_core.models import LifecycleEvent
from wfe_core.protocols import LifecycleCallback
from wfe_core.protocols.lifecycle import interest_changed, interest_generation, wanted_kinds_of
from wfe_core.providers.memory.url import check_memory_url

logger = logging.getLogger(__name__)

_channels: dict[str, weakref.WeakSet[MemoryLifecycleHub]] = {}
"""Started hubs by channel name, process-wide (weak: a hub dropped without ``stop`` does not linger)."""
_channels_guard = threading.Lock()
_listeners: dict[str, tuple[weakref.ref[MemoryLifecycleHub], ...]] = {}
"""The started hubs of each channel as a tuple of weak references, rebuilt under the guard on start/stop:
``publish`` runs for every step and reads it without taking the lock (a dict read is atomic)."""


def _refresh(channel: str) -> None:
    hubs = _channels.get(channel)
    if hubs:
        _listeners[channel] = tuple(weakref.ref(hub) for hub in hubs)
    else:
        _listeners.pop(channel, None)


_STOP = object()


class MemoryLifecycleHub:
    """In-process ``LifecycleHub``.

    Hubs built with the same ``channel`` (in any event loop of the process) see each other's events, as
    hosts sharing a real hub would. Each started hub delivers to its callbacks from one dispatcher task, so
    events arrive in publish order and a slow callback never blocks ``publish``. Sync and async callbacks are
    supported; one that raises is logged and skipped.
    """

    def __init__(self, *, channel: str = "default", stop_timeout: float = 5.0) -> None:
        self.channel = channel
        self.stop_timeout = stop_timeout
        self._callbacks: list[LifecycleCallback] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: _Inbox | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._wanted: tuple[int, frozenset[str] | None] | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build from ``memory://``; ``options`` are constructor keywords (``channel``)."""
        check_memory_url(url, cls.__name__)
        return cls(**options)

    async def start(self) -> None:
        if self._dispatcher is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._inbox = _Inbox()
        self._dispatcher = self._loop.create_task(self._dispatch(self._inbox), name=f"wfe-hub-{self.channel}")
        with _channels_guard:
            _channels.setdefault(self.channel, weakref.WeakSet()).add(self)
            _refresh(self.channel)
        interest_changed()

    async def stop(self) -> None:
        """Stop receiving, deliver what already arrived (up to ``stop_timeout`` seconds), then stop."""
        dispatcher, inbox = self._dispatcher, self._inbox
        if dispatcher is None or inbox is None:
            return
        with _channels_guard:
            hubs = _channels.get(self.channel)
            if hubs is not None:
                hubs.discard(self)
                if not hubs:
                    del _channels[self.channel]
            _refresh(self.channel)
        interest_changed()
        self._dispatcher = None
        inbox.put(_STOP)
        _, pending = await asyncio.wait([dispatcher], timeout=self.stop_timeout)
        if pending:
            dispatcher.cancel()
            await asyncio.wait([dispatcher])

    async def publish(self, event: LifecycleEvent) -> None:
        for ref in _listeners.get(self.channel, ()):
            hub = ref()
            if hub is not None:
                hub._receive(event)

    def subscribe(self, callback: LifecycleCallback) -> None:
        self._callbacks.append(callback)
        interest_changed()

    def wanted_kinds(self) -> frozenset[str] | None:
        """The kinds the subscribers of every started hub of this channel take (``LifecycleInterest``): None
        as soon as one takes every kind. Every subscriber of this hub counts, started or not, so that a
        host starting up does not miss what its callbacks take. Kept until ``interest_changed()`` (called by
        subscribe, start and stop too)."""
        generation = interest_generation()
        kept = self._wanted
        if kept is not None and kept[0] == generation:
            return kept[1]
        answer = self._ask_subscribers()
        self._wanted = (generation, answer)
        return answer

    def _ask_subscribers(self) -> frozenset[str] | None:
        wanted: set[str] = set()
        hubs = [self, *(hub for ref in _listeners.get(self.channel, ()) if (hub := ref()) is not self)]
        for hub in hubs:
            if hub is None:
                continue
            for callback in hub._callbacks:
                kinds = wanted_kinds_of(callback)
                if kinds is None:
                    return None
                wanted |= kinds
        return frozenset(wanted)

    def _receive(self, event: LifecycleEvent) -> None:
        loop, inbox = self._loop, self._inbox
        if loop is None or inbox is None or self._dispatcher is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            inbox.put(event)
        else:
            loop.call_soon_threadsafe(inbox.put, event)

    async def _dispatch(self, inbox: _Inbox) -> None:
        while True:
            event = await inbox.get()
            if event is _STOP:
                return
            for callback in list(self._callbacks):
                try:
                    result = callback(event)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception(
                        "lifecycle callback %r failed on %s; delivery goes on", callback, event.kind
                    )


class _Inbox:
    """An unbounded FIFO for one consumer in the hub's loop: what ``asyncio.Queue`` does here, without its
    bookkeeping for bounds, several getters and ``join`` (it costs more than the rest of a publish)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()
