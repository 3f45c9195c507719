"""Slots: waiting for room and taking it are separate, and no more than the limit are ever busy."""

from __future__ import annotations

import asyncio

import pytest

from wfe._slots import Slots


async def test_a_consumer_that_saw_room_waits_again_when_the_slot_was_taken_meanwhile():
    slots = Slots(1)
    await slots.wait_free()  # room now, nothing taken
    assert slots.busy == 0
    assert slots.try_take()  # someone else takes it before the consumer does
    assert not slots.try_take()
    taker = asyncio.create_task(slots.take())
    await asyncio.sleep(0.01)
    assert not taker.done() and slots.busy == 1
    slots.give()
    await asyncio.wait_for(taker, 1)
    assert slots.busy == 1 and slots.full


async def test_every_waiter_gets_a_slot_in_turn():
    slots = Slots(2)
    assert slots.try_take() and slots.try_take()
    waiters = [asyncio.create_task(slots.take()) for _ in range(3)]
    for _ in range(3):
        slots.give()
        await asyncio.sleep(0.01)
        assert slots.busy == 2
    await asyncio.wait_for(asyncio.gather(*waiters), 1)


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)
