"""Slots: waiting for room and taking it are separate, and no more than the limit are ever busy."""

from __future__ import annotations

import asyncio

import pytest

from wfe._slots import Slots


async def test_a_consumer_that_saw_room_waits_again_when_the_slot_was_taken_meanwhile():
    slots = Slots(1)
    assert await slots.wait_room() is False  # room now, nothing taken
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


async def test_a_slot_given_back_goes_to_the_first_in_line():
    slots = Slots(1)
    assert slots.try_take()
    order: list[str] = []

    async def start(name: str) -> None:
        assert await slots.take_within(5)
        order.append(name)

    async def consumer() -> None:
        assert await slots.wait_room() is True  # handed a slot in line: taken
        order.append("consumer")

    waiters = [
        asyncio.create_task(start("a")),
        asyncio.create_task(consumer()),
        asyncio.create_task(start("b")),
    ]
    await asyncio.sleep(0.01)
    for expected in (["a"], ["a", "consumer"], ["a", "consumer", "b"]):
        slots.give()
        await asyncio.sleep(0.01)
        assert order == expected and slots.busy == 1
    await asyncio.gather(*waiters)
    slots.give()
    assert slots.busy == 0 and not slots.full


async def test_a_wait_in_line_ends_without_a_slot_after_its_time_or_when_turned_away():
    slots = Slots(1)
    assert slots.try_take()
    assert await slots.take_within(0.05) is False
    waiting = asyncio.create_task(slots.take_within(10))
    taking = asyncio.create_task(slots.take())
    await asyncio.sleep(0.01)
    slots.turn_away()
    assert await asyncio.wait_for(waiting, 1) is False
    await asyncio.sleep(0.01)
    assert not taking.done(), "take looks again after being turned away, and waits in line"
    slots.give()
    await asyncio.wait_for(taking, 1)
    assert slots.busy == 1


async def test_a_cancelled_wait_leaves_the_line_and_passes_on_a_slot_it_was_handed():
    slots = Slots(1)
    assert slots.try_take()
    cancelled = asyncio.create_task(slots.take_within(10))
    after = asyncio.create_task(slots.take_within(10))
    await asyncio.sleep(0.01)
    slots.give()  # handed to the first in line ...
    cancelled.cancel()  # ... which is cancelled before it resumes: the slot goes to the next
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await asyncio.wait_for(after, 1) is True
    assert slots.busy == 1
    waiting = asyncio.create_task(slots.take_within(10))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    slots.give()
    assert slots.busy == 0, "a cancelled waiter left the line: the slot is free again"


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)
