"""The payment workflow data and steps of the failure record tests: a card charge that fails as a payment gateway
does (always, or the first time only), and ``until`` to wait for what the host does in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from wfe import StepExecutionContext


class Payment(BaseModel):
    attempts: int = 0
    refunded: bool = False


def charge_card(ctx: StepExecutionContext) -> None:
    """Fails every time, with ``RuntimeError: payment gateway returned 502``."""
    ctx.data.attempts += 1
    raise RuntimeError("payment gateway returned 502")


def charge_twice(ctx: StepExecutionContext) -> None:
    """Fails the first time, as ``charge_card`` does, and succeeds the second."""
    ctx.data.attempts += 1
    if ctx.data.attempts == 1:
        raise RuntimeError("payment gateway returned 502")


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 20) -> Any:
    """The first truthy result of ``check()``, polled; fails the test after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)
