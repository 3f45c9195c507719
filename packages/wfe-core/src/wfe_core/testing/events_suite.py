"""SubscriptionsEventsAndErrorsSuite: the conformance tests of a ``PersistenceProvider``'s subscriptions, events
and execution errors (part of ``PersistenceSuite``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from wfe_core.errors import EventNotFoundError, SubscriptionNotFoundError
from wfe_core.models import ExecutionError, new_id
from wfe_core.protocols import PersistenceProvider
from wfe_core.testing.persistence_helpers import PersistenceHelpers, utc_now


class SubscriptionsEventsAndErrorsSuite(PersistenceHelpers):
    """Subscriptions (queries, termination, external tokens), events (queries, processing, purging) and
    errors, each on an empty, isolated store: see ``PersistenceSuite`` for the ``persistence`` fixture."""

    pytestmark = pytest.mark.asyncio

    # -- subscriptions ---------------------------------------------------------------------------------

    async def test_create_and_get_subscription(self, persistence: PersistenceProvider) -> None:
        subscription = self.subscription(
            new_id(), "approval", "order-1", utc_now(), subscription_data={"p": 1}
        )
        assert await persistence.create_subscription(subscription) == subscription.id
        assert await persistence.get_subscription(subscription.id) == subscription
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.get_subscription(new_id())

    async def test_get_subscriptions_matches_name_key_and_as_of_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        newer = self.subscription(new_id(), name, key, now)
        older = self.subscription(new_id(), name, key, now - timedelta(minutes=5))
        other_key = self.subscription(new_id(), name, new_id(), now)
        other_name = self.subscription(new_id(), f"{name}-x", key, now)
        future = self.subscription(new_id(), name, key, now + timedelta(hours=1))
        for subscription in (newer, older, other_key, other_name, future):
            await persistence.create_subscription(subscription)
        found = await persistence.get_subscriptions(name, key, now + timedelta(seconds=1))
        assert [s.id for s in found] == [older.id, newer.id]
        assert [s.id for s in await persistence.get_subscriptions(name, key, now)] == [older.id, newer.id]

    async def test_terminated_subscriptions_drop_out_of_queries(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        subscription = self.subscription(new_id(), name, key, now)
        await persistence.create_subscription(subscription)
        await persistence.terminate_subscription(subscription.id)
        assert await persistence.get_subscriptions(name, key, now) == []
        assert await persistence.get_first_open_subscription(name, key, now) is None
        assert (await persistence.get_subscription(subscription.id)).id == subscription.id
        await persistence.terminate_subscription(subscription.id)
        await persistence.terminate_subscription(new_id())

    async def test_terminate_records_the_consumed_event_once(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        workflow_id, name, key = new_id(), f"evt-{new_id()[-8:]}", new_id()
        first = self.subscription(workflow_id, name, key, now)
        second = self.subscription(workflow_id, name, key, now)
        unrelated = self.subscription(new_id(), name, key, now)
        for subscription in (first, second, unrelated):
            await persistence.create_subscription(subscription)
        assert await persistence.get_consumed_event_ids(workflow_id, name, key) == set()
        event_a, event_b, event_c = new_id(), new_id(), new_id()
        await persistence.terminate_subscription(first.id, event_id=event_a)
        await persistence.terminate_subscription(first.id, event_id=event_b)
        await persistence.terminate_subscription(second.id, event_id=event_c)
        await persistence.terminate_subscription(unrelated.id, event_id=new_id())
        assert await persistence.get_consumed_event_ids(workflow_id, name, key) == {event_a, event_c}
        assert await persistence.get_consumed_event_ids(workflow_id, name, new_id()) == set()
        assert await persistence.get_consumed_event_ids(new_id(), name, key) == set()

    async def test_first_open_subscription_skips_leased_ones(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        oldest = self.subscription(new_id(), name, key, now - timedelta(minutes=2))
        younger = self.subscription(new_id(), name, key, now - timedelta(minutes=1))
        await persistence.create_subscription(oldest)
        await persistence.create_subscription(younger)
        first = await persistence.get_first_open_subscription(name, key, now)
        assert first is not None and first.id == oldest.id
        assert await persistence.set_subscription_token(
            oldest.id, "token-1", "worker-1", now + timedelta(minutes=1), now=now
        )
        first = await persistence.get_first_open_subscription(name, key, now)
        assert first is not None and first.id == younger.id
        after_expiry = await persistence.get_first_open_subscription(name, key, now + timedelta(minutes=2))
        assert after_expiry is not None and after_expiry.id == oldest.id
        assert await persistence.get_first_open_subscription(name, key, now - timedelta(minutes=3)) is None

    async def test_subscription_token_lease_is_compare_and_set(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "resize", now)
        await persistence.create_subscription(subscription)
        expiry = now + timedelta(minutes=5)
        assert await persistence.set_subscription_token(subscription.id, "t1", "w1", expiry, now=now)
        stored = await persistence.get_subscription(subscription.id)
        assert (stored.external_token, stored.external_worker_id, stored.external_token_expiry) == (
            "t1",
            "w1",
            expiry,
        )
        assert not await persistence.set_subscription_token(subscription.id, "t2", "w2", expiry, now=now)
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.clear_subscription_token(subscription.id, "t2")
        await persistence.clear_subscription_token(subscription.id, "t1")
        assert (await persistence.get_subscription(subscription.id)).external_token is None
        assert await persistence.set_subscription_token(subscription.id, "t2", "w2", expiry, now=now)
        # An expired lease may be taken over.
        assert await persistence.set_subscription_token(
            subscription.id, "t3", "w3", expiry + timedelta(minutes=5), now=expiry + timedelta(seconds=1)
        )
        assert (await persistence.get_subscription(subscription.id)).external_token == "t3"
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.clear_subscription_token(new_id(), "t3")

    async def test_concurrent_token_leases_have_one_winner(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "race", now)
        await persistence.create_subscription(subscription)
        results = await asyncio.gather(
            *(
                persistence.set_subscription_token(
                    subscription.id, f"t{n}", f"w{n}", now + timedelta(minutes=1), now=now
                )
                for n in range(10)
            )
        )
        assert results.count(True) == 1

    async def test_terminated_or_unknown_subscriptions_cannot_be_leased(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "done", now)
        await persistence.create_subscription(subscription)
        await persistence.terminate_subscription(subscription.id)
        expiry = now + timedelta(minutes=1)
        assert not await persistence.set_subscription_token(subscription.id, "t", "w", expiry, now=now)
        assert not await persistence.set_subscription_token(new_id(), "t", "w", expiry, now=now)

    # -- events ------------------------------------------------------------------------------------------

    async def test_create_and_get_event(self, persistence: PersistenceProvider) -> None:
        event = self.event("order-paid", "order-1", utc_now(), event_data={"amount": 12.5, "lines": [1, 2]})
        assert await persistence.create_event(event) == event.id
        assert await persistence.get_event(event.id) == event
        with pytest.raises(EventNotFoundError):
            await persistence.get_event(new_id())

    async def test_runnable_events_are_unprocessed_and_due_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        newer = self.event("e", new_id(), now)
        older = self.event("e", new_id(), now - timedelta(minutes=1))
        future = self.event("e", new_id(), now + timedelta(hours=1))
        processed = self.event("e", new_id(), now - timedelta(minutes=2), is_processed=True)
        for event in (newer, older, future, processed):
            await persistence.create_event(event)
        runnable = await persistence.get_runnable_events(now + timedelta(seconds=1))
        mine = [
            event_id for event_id in runnable if event_id in {newer.id, older.id, future.id, processed.id}
        ]
        assert mine == [older.id, newer.id]

    async def test_processed_flag_round_trips(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        event = self.event("e", new_id(), now)
        await persistence.create_event(event)
        await persistence.mark_event_processed(event.id)
        await persistence.mark_event_processed(event.id)
        assert (await persistence.get_event(event.id)).is_processed
        assert event.id not in await persistence.get_runnable_events(now + timedelta(seconds=1))
        await persistence.mark_event_unprocessed(event.id)
        await persistence.mark_event_unprocessed(event.id)
        assert not (await persistence.get_event(event.id)).is_processed
        assert event.id in await persistence.get_runnable_events(now + timedelta(seconds=1))

    async def test_get_events_matches_name_key_and_time_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        late = self.event(name, key, now + timedelta(seconds=10), is_processed=True)
        first_at_now = self.event(name, key, now)
        second_at_now = self.event(name, key, now)
        too_old = self.event(name, key, now - timedelta(seconds=10))
        other_key = self.event(name, new_id(), now)
        other_name = self.event(f"{name}-x", key, now)
        for event in (late, first_at_now, second_at_now, too_old, other_key, other_name):
            await persistence.create_event(event)
        assert await persistence.get_events(name, key, now) == [first_at_now.id, second_at_now.id, late.id]

    async def test_purge_events_removes_old_processed_ones(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        old_processed = self.event(name, key, now - timedelta(days=10), is_processed=True)
        old_unprocessed = self.event(name, key, now - timedelta(days=10))
        recent_processed = self.event(name, key, now, is_processed=True)
        for event in (old_processed, old_unprocessed, recent_processed):
            await persistence.create_event(event)
        assert await persistence.purge_events(now - timedelta(days=1)) == 1
        with pytest.raises(EventNotFoundError):
            await persistence.get_event(old_processed.id)
        remaining = await persistence.get_events(name, key, now - timedelta(days=30))
        assert remaining == [old_unprocessed.id, recent_processed.id]

    # -- errors --------------------------------------------------------------------------------------------

    async def test_errors_are_stored_per_instance_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        workflow_id = new_id()
        later = ExecutionError(
            workflow_id=workflow_id, execution_pointer_id=new_id(), error_time=now, message="B"
        )
        earlier = ExecutionError(workflow_id=workflow_id, error_time=now - timedelta(seconds=1), message="A")
        other = ExecutionError(workflow_id=new_id(), error_time=now, message="other")
        await persistence.persist_errors([later, other])
        await persistence.persist_errors([earlier])
        await persistence.persist_errors([])
        assert await persistence.get_errors(workflow_id) == [earlier, later]
        assert await persistence.get_errors(new_id()) == []

    async def test_errors_keep_their_step_and_exception(self, persistence: PersistenceProvider) -> None:
        workflow_id = new_id()
        error = ExecutionError(
            workflow_id=workflow_id,
            execution_pointer_id=new_id(),
            error_time=utc_now(),
            message="RuntimeError: payment gateway returned 502",
            step_id=3,
            step_name="Take payment",
            exception_type="RuntimeError",
            traceback='Traceback (most recent call last):\n  File "shop.py", line 7, in run\n'
            "RuntimeError: payment gateway returned 502\n",
        )
        bare = ExecutionError(workflow_id=workflow_id, error_time=error.error_time, message="no step")
        await persistence.persist_errors([error, bare])
        assert await persistence.get_errors(workflow_id) == [error, bare]

    async def test_an_instances_errors_are_never_written_with_it(
        self, persistence: PersistenceProvider
    ) -> None:
        workflow_id = new_id()

        def error(message: str) -> ExecutionError:
            return ExecutionError(workflow_id=workflow_id, error_time=utc_now(), message=message)

        instance = self.instance(
            id=workflow_id, execution_pointers=[self.pointer()], errors=[error("at create")]
        )
        await persistence.create_workflow(instance)
        assert (await persistence.get_workflow(instance.id)).errors == []
        instance.errors.append(error("at persist"))
        instance.description = "persisted"
        await persistence.persist_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert (loaded.description, loaded.errors) == ("persisted", [])
        assert [i.errors for i in await persistence.get_workflows([instance.id])] == [[]]
        assert await persistence.get_errors(instance.id) == []
