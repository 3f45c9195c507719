"""``ValkeyLifecycleHub``: lifecycle events published to every host over Valkey/Redis pub/sub."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from wfe_core.errors import ProviderError
from wfe_core.models import LifecycleEvent, lifecycle_event_adapter
from wfe_core.protocols import LifecycleCallback
from wfe_valkey._connection import ClientHandle
from wfe_valkey._options import as_seconds, from_url_options
from wfe_valkey._retry import (
    TRANSIENT_ERRORS,
    call_with_retry,
    cancellation_requests,
    reraise_lost_cancellation,
)

logger = logging.getLogger("wfe_valkey")

_FIRST_RECONNECT_DELAY = 0.05
_MAX_RECONNECT_DELAY = 2.0
# The reader wakes this often to check the connection's health.
_LISTEN_SLICE = 1.0


class ValkeyLifecycleHub:
    """A ``LifecycleHub`` that ``PUBLISH``-es each event as JSON on ``{prefix}:lifecycle``.

    ``start`` subscribes to the channel; a reader task buffers each message and a delivery task hands the
    events to the callbacks registered with ``subscribe``, one event at a time, so events reach callbacks in
    the order the server received them. Events of this host come back through the server like everyone
    else's, so each callback sees each event once. After a connection loss, or when a ping after
    ``health_check_interval`` seconds of silence goes unanswered, the reader resubscribes with backoff; events
    published meanwhile are missed (pub/sub keeps no history).

    Args:
        url: ``redis://``, ``rediss://`` (TLS), ``valkey://`` or ``valkeys://`` (TLS), with optional user,
            password and database number. Providers given the same URL in one process share a client.
        prefix: Key prefix; hubs with the same prefix on the same server see each other's events.
        client: Use this redis-py client instead of one made from ``url`` (it is not closed by ``stop``).
        retry_timeout: Seconds ``publish`` and ``start`` keep retrying while the server is unreachable before
            raising ``ProviderError``.
        reply_timeout: Seconds to wait for a reply before the connection counts as dead and is replaced.
        health_check_interval: Seconds of silence on the subscription after which the reader pings the server.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "wfe",
        client: Redis | None = None,
        retry_timeout: float = 10.0,
        reply_timeout: float = 10.0,
        health_check_interval: float = 15.0,
    ) -> None:
        self._retry_timeout = as_seconds("Valkey lifecycle hub", "retry_timeout", retry_timeout)
        self._reply_timeout = as_seconds("Valkey lifecycle hub", "reply_timeout", reply_timeout)
        self._health_check_interval = as_seconds(
            "Valkey lifecycle hub", "health_check_interval", health_check_interval
        )
        self._handle = ClientHandle(url, client)
        self._channel = f"{prefix}:lifecycle"
        self._callbacks: list[LifecycleCallback] = []
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ValkeyLifecycleHub:
        """Build from a URL; the keyword options also work as query options (``?prefix=orders``)."""
        return cls(
            url,
            **from_url_options(
                url, options, ("prefix", "retry_timeout", "reply_timeout", "health_check_interval")
            ),
        )

    @property
    def channel(self) -> str:
        """The pub/sub channel events travel on."""
        return self._channel

    async def start(self) -> None:
        """Subscribe and begin delivering. Idempotent; events published after it returns are delivered.

        Raises:
            ProviderError: the server could not be reached within ``retry_timeout``.
        """
        if self._tasks:
            return
        client = self._handle.acquire()
        try:
            self._pubsub = await call_with_retry(
                lambda: self._subscribe(client),
                what=f"subscribing to '{self._channel}'",
                error=ProviderError,
                retry_timeout=self._retry_timeout,
                reply_timeout=self._reply_timeout,
            )
        except ProviderError:
            await self._handle.release()
            raise
        # Reading and delivering are separate tasks: a slow callback must not leave messages piling up on the
        # server, which disconnects subscribers whose output buffer overflows.
        inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._read(client, inbox), name=f"wfe-valkey read {self._channel}"),
            asyncio.create_task(self._dispatch(inbox), name=f"wfe-valkey deliver {self._channel}"),
        ]

    async def stop(self) -> None:
        """Stop delivering and unsubscribe. Idempotent."""
        tasks, self._tasks = self._tasks, []
        if tasks:
            for task in tasks:
                task.cancel()
            # asyncio.wait does not raise the tasks' CancelledError, but a cancellation of stop() itself
            # still propagates.
            await asyncio.wait(tasks)
        await self._close_pubsub()
        await self._handle.release()

    async def publish(self, event: LifecycleEvent) -> None:
        """Send the event to every hub subscribed to the channel, this one included.

        Raises:
            ProviderError: the server could not be reached within ``retry_timeout``.
        """
        client = self._handle.acquire()
        payload = event.model_dump_json()

        async def send() -> Any:
            return await client.publish(self._channel, payload)

        await call_with_retry(
            send,
            what=f"publishing {event.kind}",
            error=ProviderError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )

    def subscribe(self, callback: LifecycleCallback) -> None:
        """Register a sync or async callback; it receives events from the next one read on."""
        self._callbacks.append(callback)

    async def _subscribe(self, client: Redis) -> PubSub:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            # Wait for the server's confirmation so nothing published after start() returns is missed.
            confirmation = await pubsub.get_message(
                ignore_subscribe_messages=False, timeout=self._reply_timeout
            )
            if confirmation is None or confirmation.get("type") != "subscribe":
                raise redis_errors.TimeoutError(f"no confirmation of the subscription to '{self._channel}'")
        except BaseException:  # cancellation included: the connection must not leak; re-raised as it came
            await _aclose(pubsub)
            raise
        return pubsub

    async def _read(self, client: Redis, inbox: asyncio.Queue[str | bytes]) -> None:
        loop = asyncio.get_running_loop()
        delay = _FIRST_RECONNECT_DELAY
        last_heard = loop.time()
        pinged = False
        cancellations = cancellation_requests()
        while True:
            reraise_lost_cancellation(cancellations)  # stop() must end this loop even if redis-py lost it
            pubsub = self._pubsub
            try:
                if pubsub is None:
                    pubsub = self._pubsub = await self._subscribe(client)
                    logger.info("resubscribed to '%s'", self._channel)
                    delay = _FIRST_RECONNECT_DELAY
                    last_heard, pinged = loop.time(), False
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=min(_LISTEN_SLICE, self._health_check_interval)
                )
                silent = loop.time() - last_heard
                if message is not None:
                    last_heard, pinged = loop.time(), False
                elif silent > self._health_check_interval + self._reply_timeout:
                    # A peer that vanished without closing the connection (a dropped NAT entry, a failover
                    # behind a fixed address) sends nothing, not even an error: only an unanswered ping tells.
                    raise redis_errors.TimeoutError(f"no answer to a ping within {self._reply_timeout:g}s")
                elif silent > self._health_check_interval and not pinged:
                    await pubsub.ping()
                    pinged = True
            except Exception as exc:  # any failure: keep the subscription alive rather than end the task
                logger.warning(
                    "lost the subscription to '%s' (%s); reconnecting in %.2fs", self._channel, exc, delay
                )
                await self._close_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RECONNECT_DELAY)
                continue
            if message is not None and message.get("type") == "message":
                inbox.put_nowait(message["data"])

    async def _dispatch(self, inbox: asyncio.Queue[str | bytes]) -> None:
        while True:
            await self._deliver(await inbox.get())

    async def _deliver(self, raw: str | bytes) -> None:
        try:
            event = lifecycle_event_adapter.validate_json(raw)
        except ValidationError:
            logger.warning("ignoring a message on '%s' that is not a lifecycle event: %r", self._channel, raw)
            return
        for callback in list(self._callbacks):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("lifecycle callback %r failed on %s", callback, event.kind)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is None:
            return
        try:
            await _aclose(pubsub)
        except TRANSIENT_ERRORS:
            logger.debug("closing a broken subscription to '%s'", self._channel, exc_info=True)


async def _aclose(pubsub: PubSub) -> None:
    # redis-py annotates PubSub.aclose from 8.2 on and not before: a typed alias passes mypy --strict with both.
    close: Callable[[], Awaitable[None]] = pubsub.aclose
    await close()
