"""Bounded retries with exponential backoff around Valkey calls, and wrapping of redis-py errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import exceptions as redis_errors

from wfe_core.errors import ProviderError

T = TypeVar("T")

logger = logging.getLogger("wfe_valkey")

#: Errors after which the same call can succeed on a fresh connection (server restarting, network blip,
#: failover still loading its data set).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.TryAgainError,
    redis_errors.ReadOnlyError,
)

#: TRANSIENT_ERRORS and the TimeoutError of a reply that did not come within the reply timeout.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (*TRANSIENT_ERRORS, TimeoutError)

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0


def cancellation_requests() -> int:
    """How many cancellations of the current task are pending (see ``reraise_lost_cancellation``)."""
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def reraise_lost_cancellation(before: int) -> None:
    """Raise ``CancelledError`` when the current task was cancelled since ``cancellation_requests()`` returned
    ``before`` but the cancellation never reached it.

    On Python 3.11, redis-py sends commands through ``asyncio.wait_for`` (whenever a socket timeout is set, as
    it is by default), and that ``wait_for`` drops a cancellation that arrives just as the send completes. The
    call then returns normally; a loop around it (a consumer taking work, a subscriber reading) would run on
    for ever and ``host.stop()`` would hang.
    """
    if cancellation_requests() > before:
        raise asyncio.CancelledError


async def call_with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    error: type[ProviderError],
    retry_timeout: float,
    reply_timeout: float,
) -> T:
    """Run ``operation``, retrying transient failures with backoff for up to ``retry_timeout`` seconds.

    An attempt without a reply within ``reply_timeout`` seconds is cancelled (redis-py then drops the
    connection) and counts as a transient failure: a connection whose peer vanished without a reset (a
    dropped NAT entry, a failover behind a fixed address) would otherwise hang the call until TCP keepalive
    notices, hours later.

    Every call is safe to repeat: the Lua scripts are idempotent or, where a lost reply could take an item
    twice, leave the first delivery to the visibility timeout.

    Raises:
        error: the server stayed away for ``retry_timeout`` seconds, or answered with an error (the redis-py
            exception is the ``__cause__``).
    """
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + retry_timeout
    delay = _FIRST_DELAY
    attempt = 1
    cancellations = cancellation_requests()
    while True:
        scope = asyncio.timeout(reply_timeout)
        try:
            async with scope:
                result = await operation()
            reraise_lost_cancellation(cancellations)
            return result
        except RETRYABLE_ERRORS as exc:
            reraise_lost_cancellation(cancellations)
            if isinstance(exc, TimeoutError) and not scope.expired():
                raise error(f"{what} failed: {exc!r}") from exc
            reason = str(exc) or f"no reply within {reply_timeout:g}s"
            remaining = give_up_at - loop.time()
            if remaining <= 0:
                raise error(
                    f"{what} failed: Valkey/Redis unreachable for {retry_timeout:g}s "
                    f"after {attempt} attempts ({reason}); check the server and the URL, or raise retry_timeout"
                ) from exc
            logger.warning("%s failed (attempt %d, %s); retrying in %.2fs", what, attempt, reason, delay)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)
            attempt += 1
        except redis_errors.RedisError as exc:
            reraise_lost_cancellation(cancellations)
            raise error(f"{what} failed: {exc}") from exc


async def call_script(
    script: Any,
    keys: list[str],
    args: list[Any],
    *,
    what: str,
    error: type[ProviderError],
    retry_timeout: float,
    reply_timeout: float,
) -> Any:
    """Run a registered Lua script through ``call_with_retry`` (the scripts are safe to repeat)."""

    async def run() -> Any:
        return await script(keys=keys, args=args)

    return await call_with_retry(
        run, what=what, error=error, retry_timeout=retry_timeout, reply_timeout=reply_timeout
    )
