"""Slots: how many things of one kind a host does at once, shared by everyone who starts one."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from wfe_core.errors import ConfigurationError


class Slots:
    """A count of busy slots out of ``limit``, and a line of those waiting for one.

    Unlike a semaphore, waiting for room and taking a slot can be separate steps, so a queue consumer can wait
    for room before it takes an item off the queue (an item taken while the host is full would sit here,
    invisible to other hosts) and then take the slot; while it waits for the item, someone else may take that
    slot with ``try_take`` (a host starting a new instance itself), and the consumer then waits again with the
    item in hand. However slots are taken, no more than ``limit`` are busy at once.

    While every slot is busy, whoever waits stands in one line, first come first served, and a slot given back
    passes straight to the first in line: new instances started here (``take_within``) and the queue consumer
    (``wait_room``, ``take``) take turns, so neither starves the other."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigurationError(f"a slot limit must be at least 1, not {limit}")
        self.limit = limit
        self.busy = 0
        self._line: deque[asyncio.Future[bool]] = deque()

    @property
    def full(self) -> bool:
        return self.busy >= self.limit

    def try_take(self) -> bool:
        """Take a slot if one is free now; True when taken."""
        if self.busy >= self.limit:
            return False
        self.busy += 1
        return True

    async def wait_room(self) -> bool:
        """Return once there is room: False when a slot is free (nothing taken, and someone may take it first),
        True when every slot was busy and one was handed over in line (taken: ``give`` it back if unused)."""
        while self.full:
            if await self._in_line(None):
                return True
        return False

    async def take(self) -> None:
        """Wait for a slot (in line while none is free) and take it."""
        while not self.try_take():
            if await self._in_line(None):
                return

    async def take_within(self, seconds: float) -> bool:
        """Take a slot, waiting in line up to ``seconds`` for one; False when none came (nothing taken)."""
        return self.try_take() or await self._in_line(seconds)

    def turn_away(self) -> None:
        """Answer everyone in line now with "no slot" (the host is stopping): ``take_within`` returns False,
        ``take`` and ``wait_room`` look again."""
        while self._line:
            _answer(self._line.popleft(), False)

    def give(self) -> None:
        """Give a slot back: to the first in line, else to whoever takes it next."""
        while self._line:
            turn = self._line.popleft()
            if not turn.done():
                turn.set_result(True)  # the slot passes on: busy is unchanged
                return
        self.busy -= 1

    async def _in_line(self, seconds: float | None) -> bool:
        """Wait in line for a slot handed over (True, taken), up to ``seconds`` (False, nothing taken)."""
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self._line.append(turn)
        timer = None if seconds is None else loop.call_later(seconds, _answer, turn, False)
        try:
            return await turn
        except asyncio.CancelledError:
            if _granted(turn):
                self.give()  # handed a slot as the wait was cancelled: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if not _granted(turn):  # gave up or turned away: perhaps still in line
                with contextlib.suppress(ValueError):
                    self._line.remove(turn)


def _granted(turn: asyncio.Future[bool]) -> bool:
    return turn.done() and not turn.cancelled() and turn.result()


def _answer(turn: asyncio.Future[bool], value: bool) -> None:
    if not turn.done():
        turn.set_result(value)


__all__ = ["Slots"]
