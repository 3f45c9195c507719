"""DeliverySuite: conformance tests of event delivery as one atomic write (part of ``PersistenceSuite``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.delivery import DELIVERED_EVENT_ID
from wfe_core.errors import LeaseLostError
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionPointer,
    PointerStatus,
    WorkflowInstance,
    new_id,
)
from wfe_core.protocols import PersistenceProvider


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class DeliverySuite:
    """Storing a wait takes the oldest eligible event for it, and applying a delivery wakes the pointer,
    closes the subscription and records the event as consumed, each in the transaction of the write
    (``PersistenceProvider.persist_workflow``). Mixed into ``PersistenceSuite``: every provider runs it."""

    pytestmark = pytest.mark.asyncio

    async def _waiting(
        self, persistence: PersistenceProvider, name: str, key: str, as_of: datetime, waits: int = 1
    ) -> tuple[WorkflowInstance, list[EventSubscription]]:
        """A stored instance whose pointers wait for (name, key), and (unstored) subscriptions for them."""
        pointers = [
            ExecutionPointer(
                step_id=1,
                status=PointerStatus.WAITING_FOR_EVENT,
                event_name=name,
                event_key=key,
                active=False,
            )
            for _ in range(waits)
        ]
        instance = WorkflowInstance(
            workflow_definition_id=f"def-{new_id()[-8:]}",
            version=1,
            create_time=as_of,
            execution_pointers=pointers,
        )
        await persistence.create_workflow(instance)
        subscriptions = [
            EventSubscription(
                workflow_id=instance.id,
                step_id=1,
                execution_pointer_id=pointer.id,
                event_name=name,
                event_key=key,
                subscribe_as_of=as_of,
            )
            for pointer in pointers
        ]
        return instance, subscriptions

    @staticmethod
    async def _event(
        persistence: PersistenceProvider, name: str, key: str, at: datetime, data: object
    ) -> Event:
        event = Event(event_name=name, event_key=key, event_time=at, event_data=data)
        await persistence.create_event(event)
        return event

    async def test_a_stored_wait_takes_the_oldest_eligible_event_in_the_same_write(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        as_of = now - timedelta(minutes=5)
        await self._event(persistence, "go", key, as_of - timedelta(minutes=1), "before the wait's as-of")
        first = await self._event(persistence, "go", key, as_of + timedelta(minutes=1), "first")
        await self._event(persistence, "go", key, as_of + timedelta(minutes=2), "second")
        await self._event(persistence, "go", key, now + timedelta(hours=1), "not due yet")
        await persistence.mark_event_processed(first.id)  # processed or not, it is taken
        instance, (subscription,) = await self._waiting(persistence, "go", key, as_of)
        pointer = instance.execution_pointers[0]

        delivered = await persistence.persist_workflow(
            instance, pointers=[], subscriptions=[subscription], now=now
        )

        assert delivered == [Delivery(subscription_id=subscription.id, event_id=first.id)]
        for seen in (instance, await persistence.get_workflow(instance.id)):
            woken = seen.pointer(pointer.id)
            assert woken.event_published and woken.active and woken.event_data == "first"
            assert woken.extension_attributes[DELIVERED_EVENT_ID] == first.id
            assert seen.next_execution == now
        assert await persistence.get_subscriptions("go", key, now) == []
        assert await persistence.get_consumed_event_ids(instance.id, "go", key) == {first.id}

    async def test_a_stored_wait_skips_events_the_instance_consumed_and_its_siblings_took(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        as_of = now - timedelta(minutes=5)
        events = [
            await self._event(persistence, "tick", key, as_of + timedelta(seconds=n), n) for n in range(3)
        ]
        instance, (earlier, *siblings) = await self._waiting(persistence, "tick", key, as_of, waits=3)
        assert await persistence.persist_workflow(instance, subscriptions=[earlier], now=now) == [
            Delivery(subscription_id=earlier.id, event_id=events[0].id)
        ]

        delivered = await persistence.persist_workflow(instance, pointers=[], subscriptions=siblings, now=now)

        assert [d.event_id for d in delivered] == [events[1].id, events[2].id]
        stored = await persistence.get_workflow(instance.id)
        assert sorted(p.event_data for p in stored.execution_pointers) == [0, 1, 2]
        consumed = await persistence.get_consumed_event_ids(instance.id, "tick", key)
        assert consumed == {e.id for e in events}

    async def test_a_wait_stored_without_now_takes_nothing(self, persistence: PersistenceProvider) -> None:
        now = _now()
        key = new_id()
        await self._event(persistence, "go", key, now, None)
        instance, (subscription,) = await self._waiting(persistence, "go", key, now - timedelta(minutes=1))
        assert await persistence.persist_workflow(instance, subscriptions=[subscription]) == []
        assert [s.id for s in await persistence.get_subscriptions("go", key, now)] == [subscription.id]
        assert not (await persistence.get_workflow(instance.id)).execution_pointers[0].event_published

    async def test_a_delivery_wakes_the_pointer_closes_the_wait_and_records_the_event_in_one_write(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        instance, (subscription,) = await self._waiting(persistence, "go", key, now - timedelta(minutes=1))
        await persistence.persist_workflow(instance, subscriptions=[subscription], now=now)
        event = await self._event(persistence, "go", key, now, {"n": 1})
        delivery = Delivery(subscription_id=subscription.id, event_id=event.id)

        assert await persistence.persist_workflow(instance, pointers=[], deliveries=[delivery], now=now) == [
            delivery
        ]

        stored = await persistence.get_workflow(instance.id)
        assert stored.execution_pointers[0].event_data == {"n": 1}
        assert stored.execution_pointers[0].event_published
        assert stored.next_execution == now
        assert await persistence.get_subscriptions("go", key, now) == []
        assert await persistence.get_consumed_event_ids(instance.id, "go", key) == {event.id}
        # applied once: the same delivery again, or the event to another wait of the instance, is skipped
        assert await persistence.persist_workflow(instance, pointers=[], deliveries=[delivery], now=now) == []

    async def test_a_consumed_event_is_not_delivered_to_another_wait_of_the_instance(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        as_of = now - timedelta(minutes=1)
        instance, (first, second) = await self._waiting(persistence, "go", key, as_of, waits=2)
        await persistence.persist_workflow(instance, subscriptions=[first, second])
        event = await self._event(persistence, "go", key, now, None)
        to_first = Delivery(subscription_id=first.id, event_id=event.id)
        to_second = Delivery(subscription_id=second.id, event_id=event.id)

        assert await persistence.persist_workflow(instance, deliveries=[to_first, to_second], now=now) == [
            to_first
        ]
        assert [s.id for s in await persistence.get_subscriptions("go", key, now)] == [second.id]

    async def test_a_delivery_of_an_unknown_event_or_wait_or_of_another_instances_wait_is_skipped(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        as_of = now - timedelta(minutes=1)
        instance, (subscription,) = await self._waiting(persistence, "go", key, as_of)
        other, (others,) = await self._waiting(persistence, "go", key, as_of)
        await persistence.persist_workflow(instance, subscriptions=[subscription])
        await persistence.persist_workflow(other, subscriptions=[others])
        event = await self._event(persistence, "go", key, now, None)

        skipped = [
            Delivery(subscription_id=subscription.id, event_id=new_id()),  # no such event
            Delivery(subscription_id=new_id(), event_id=event.id),  # no such wait
            Delivery(subscription_id=others.id, event_id=event.id),  # another instance's wait
        ]
        assert await persistence.persist_workflow(instance, pointers=[], deliveries=skipped, now=now) == []

        assert {s.id for s in await persistence.get_subscriptions("go", key, now)} == {
            subscription.id,
            others.id,
        }
        assert await persistence.get_consumed_event_ids(instance.id, "go", key) == set()
        assert await persistence.get_consumed_event_ids(other.id, "go", key) == set()
        assert not (await persistence.get_workflow(instance.id)).execution_pointers[0].event_published
        assert not (await persistence.get_workflow(other.id)).execution_pointers[0].event_published

    async def test_a_delivery_to_a_pointer_that_no_longer_waits_only_closes_the_wait(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        instance, (subscription,) = await self._waiting(persistence, "go", key, now - timedelta(minutes=1))
        await persistence.persist_workflow(instance, subscriptions=[subscription])
        pointer = instance.execution_pointers[0]
        pointer.status, pointer.end_time = PointerStatus.COMPLETE, now
        await persistence.persist_workflow(instance)
        event = await self._event(persistence, "go", key, now, None)

        delivered = await persistence.persist_workflow(
            instance, deliveries=[Delivery(subscription_id=subscription.id, event_id=event.id)], now=now
        )

        assert delivered == []
        assert await persistence.get_subscriptions("go", key, now) == []
        assert await persistence.get_consumed_event_ids(instance.id, "go", key) == set()
        assert not (await persistence.get_workflow(instance.id)).execution_pointers[0].event_published

    async def test_a_refused_write_delivers_nothing_and_leaves_the_instance_as_it_was(
        self, persistence: PersistenceProvider
    ) -> None:
        now = _now()
        key = new_id()
        old = await self._event(persistence, "go", key, now - timedelta(seconds=1), None)
        instance, (taker, waiter) = await self._waiting(persistence, "go", key, now - timedelta(minutes=1), 2)
        await persistence.persist_workflow(instance, subscriptions=[waiter], fence=5)
        event = await self._event(persistence, "go", key, now, None)
        before = instance.model_dump()

        with pytest.raises(LeaseLostError):
            await persistence.persist_workflow(
                instance,
                subscriptions=[taker],
                deliveries=[Delivery(subscription_id=waiter.id, event_id=event.id)],
                now=now,
                fence=4,
            )

        assert instance.model_dump() == before
        stored = await persistence.get_workflow(instance.id)
        assert not any(p.event_published for p in stored.execution_pointers)
        assert [s.id for s in await persistence.get_subscriptions("go", key, now)] == [waiter.id]
        assert await persistence.get_consumed_event_ids(instance.id, "go", key) == set()
        assert old.id in await persistence.get_events("go", key, now - timedelta(minutes=1))

    async def test_an_event_created_while_a_wait_is_stored_is_taken_or_finds_the_wait(
        self, persistence: PersistenceProvider
    ) -> None:
        """The race the event consumer depends on: an event created concurrently with the write storing a
        wait is either taken by that write or, once created, finds the wait open in ``get_subscriptions``."""
        for _ in range(20):
            now = _now()
            key = new_id()
            instance, (subscription,) = await self._waiting(
                persistence, "go", key, now - timedelta(minutes=1)
            )
            event = Event(event_name="go", event_key=key, event_time=now - timedelta(seconds=1))
            taken, _ = await asyncio.gather(
                persistence.persist_workflow(instance, subscriptions=[subscription], now=now),
                persistence.create_event(event),
            )
            open_ids = [s.id for s in await persistence.get_subscriptions("go", key, event.event_time)]
            assert (taken == [Delivery(subscription_id=subscription.id, event_id=event.id)]) != (
                open_ids == [subscription.id]
            ), (taken, open_ids)
