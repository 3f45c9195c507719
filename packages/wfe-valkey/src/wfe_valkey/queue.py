"""``ValkeyQueue``: reliable, de-duplicating, blocking work queues on Valkey or Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from wfe_core.errors import QueueError
from wfe_core.models import QueueItem, QueueType
from wfe_valkey._connection import ClientHandle
from wfe_valkey._options import as_seconds, as_timedelta, from_url_options
from wfe_valkey._queue_slots import ValkeyQueueSlots
from wfe_valkey._retry import (
    RETRYABLE_ERRORS,
    call_script,
    cancellation_requests,
    reraise_lost_cancellation,
)

logger = logging.getLogger("wfe_valkey")

# Keys of one queue: ready (list, FIFO of waiting ids), waiting (set, the ids in ready: de-duplication),
# inflight (sorted set, receipt -> visibility deadline in ms), receipts (hash, receipt -> id), signal (list
# that blocked takers BLPOP on; non-empty while ids are ready).

_ENQUEUE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[5], '1')
return 1
"""

# Requeues deliveries whose visibility deadline passed (oldest first, at the front, unless the id is already
# waiting again), then takes the head. Returns {1, id} or, when nothing is ready, {0, ms until the next
# deadline or -1}.
_DEQUEUE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for i = #expired, 1, -1 do
  local receipt = expired[i]
  local id = redis.call('HGET', KEYS[4], receipt)
  redis.call('ZREM', KEYS[3], receipt)
  redis.call('HDEL', KEYS[4], receipt)
  if id and redis.call('SADD', KEYS[2], id) == 1 then
    redis.call('LPUSH', KEYS[1], id)
  end
end
local id = redis.call('LPOP', KEYS[1])
if not id then
  redis.call('DEL', KEYS[5])
  local nearest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if nearest[2] then
    return {0, math.max(tonumber(nearest[2]) - now, 0)}
  end
  return {0, -1}
end
redis.call('SREM', KEYS[2], id)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], id)
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[5])
elseif redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('RPUSH', KEYS[5], '1')
end
return {1, id}
"""

# Forgets the delivery named by the receipt while it is still within its visibility deadline. A delivery
# whose deadline passed counts as lost: it is left to the requeue in _DEQUEUE, so a late ack cannot cancel
# the redelivery another taker may already be counting on. A newer enqueue of the id is never touched.
_ACK = """
local deadline = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not deadline then
  return 0
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if tonumber(deadline) <= now then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""

_REQUEUE_BATCH = 100
# Shortest BLPOP wait: BLPOP treats 0 as "forever".
_MIN_BLOCK = 0.01


@dataclass(frozen=True, slots=True)
class _Scripts:
    enqueue: AsyncScript
    dequeue: AsyncScript
    ack: AsyncScript


class ValkeyQueue(ValkeyQueueSlots):
    """A ``QueueProvider`` on Valkey or Redis with reliable, at-least-once delivery.

    Each ``QueueType`` has its own keys under ``{prefix}:queue:{type}:``. ``dequeue`` moves an id from the
    ready list to an in-flight sorted set in one Lua script, under a fresh receipt; a delivery not acked
    within ``visibility_timeout`` goes back to the front of the queue. ``dequeue`` blocks on a signal list
    (``BLPOP``) up to its timeout, so idle hosts do not poll. It keeps the slots of queues with limits too
    (``QueueSlotStore``), for every host whose queue provider it is.

    Args:
        url: ``redis://``, ``rediss://`` (TLS), ``valkey://`` or ``valkeys://`` (TLS), with optional user,
            password and database number. Providers given the same URL in one process share a client.
        prefix: Key prefix, so several deployments can share one server.
        client: Use this redis-py client instead of one made from ``url`` (it is not closed by ``stop``).
        visibility_timeout: How long a taken item stays invisible before it is delivered again.
        retry_timeout: Seconds to keep retrying while the server is unreachable before raising ``QueueError``.
        reply_timeout: Seconds to wait for a reply (beyond a blocking wait) before the connection counts as
            dead and the call is retried on a new one.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "wfe",
        client: Redis | None = None,
        visibility_timeout: timedelta | float = timedelta(seconds=30),
        retry_timeout: float = 10.0,
        reply_timeout: float = 10.0,
    ) -> None:
        visibility = as_timedelta("Valkey queue", "visibility_timeout", visibility_timeout)
        self._visibility_ms = max(1, int(visibility.total_seconds() * 1000))
        self._retry_timeout = as_seconds("Valkey queue", "retry_timeout", retry_timeout)
        self._reply_timeout = as_seconds("Valkey queue", "reply_timeout", reply_timeout)
        self._handle = ClientHandle(url, client)
        self._prefix = prefix
        self._scripts: _Scripts | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ValkeyQueue:
        """Build from a URL; the keyword options also work as query options (``?visibility_timeout=60``)."""
        accepted = ("prefix", "visibility_timeout", "retry_timeout", "reply_timeout")
        return cls(url, **from_url_options(url, options, accepted))

    @property
    def is_dequeue_blocking(self) -> bool:
        """Always True: ``dequeue`` waits on the server for up to its timeout."""
        return True

    @property
    def visibility_timeout(self) -> timedelta:
        return timedelta(milliseconds=self._visibility_ms)

    async def start(self) -> None:
        """Take the (possibly shared) client. Idempotent; the connection itself opens on first use."""
        self._lua()

    async def stop(self) -> None:
        """Give the client back. Idempotent; waiting and in-flight items stay on the server."""
        self._scripts = None
        await self._handle.release()

    async def enqueue(self, queue: QueueType, item_id: str) -> None:
        """Append ``item_id`` unless it is already waiting in ``queue`` (atomic check and add)."""
        await call_script(
            self._lua().enqueue,
            self._keys(queue),
            [item_id],
            what=f"enqueueing '{item_id}' on {queue}",
            error=QueueError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )

    # The protocol names the parameter; it bounds the server-side BLPOP, not a client-side wait.
    async def dequeue(self, queue: QueueType, *, timeout: float = 1.0) -> QueueItem | None:  # noqa: ASYNC109
        """Take the next item, waiting up to ``timeout`` seconds for one; None when none arrived."""
        scripts = self._lua()
        client = self._handle.acquire()
        keys = self._keys(queue)
        signal = keys[4]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        cancellations = cancellation_requests()
        while True:
            receipt = uuid.uuid4().hex
            found, value = await call_script(
                scripts.dequeue,
                keys,
                [receipt, self._visibility_ms, _REQUEUE_BATCH],
                what=f"dequeueing from {queue}",
                error=QueueError,
                retry_timeout=self._retry_timeout,
                reply_timeout=self._reply_timeout,
            )
            if int(found) == 1:
                return QueueItem(queue=queue, item_id=_text(value), receipt=receipt)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # Wake at the latest when the nearest in-flight delivery expires, to hand it out again.
            wait = remaining if int(value) < 0 else min(remaining, int(value) / 1000)
            block = max(wait, _MIN_BLOCK)

            try:
                async with asyncio.timeout(block + self._reply_timeout):
                    await client.blpop([signal], timeout=block)
            except RETRYABLE_ERRORS:
                # Not retried here: the next take (retried, and raising when the server stays away) finds
                # whatever arrived meanwhile, including an item whose wake-up token the broken wait swallowed.
                logger.debug("waiting on %s failed; taking again", queue, exc_info=True)
            except redis_errors.RedisError as exc:
                raise QueueError(f"waiting on {queue} failed: {exc}") from exc
            reraise_lost_cancellation(cancellations)

    async def ack(self, item: QueueItem) -> None:
        """Forget this delivery of the item. Idempotent.

        An ack after the visibility timeout lapsed does nothing: the item is (or will be) delivered again, and
        newer enqueues of the same id are never removed.
        """
        await call_script(
            self._lua().ack,
            self._keys(item.queue),
            [item.receipt],
            what=f"acking '{item.item_id}' on {item.queue}",
            error=QueueError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )

    def _lua(self) -> _Scripts:
        client = self._handle.acquire()
        if self._scripts is None:
            self._scripts = _Scripts(
                enqueue=client.register_script(_ENQUEUE),
                dequeue=client.register_script(_DEQUEUE),
                ack=client.register_script(_ACK),
            )
        return self._scripts

    def _keys(self, queue: QueueType) -> list[str]:
        base = f"{self._prefix}:queue:{QueueType(queue).value}"
        return [f"{base}:ready", f"{base}:waiting", f"{base}:inflight", f"{base}:receipts", f"{base}:signal"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
