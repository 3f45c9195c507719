"""Event delivery: choosing the event a wait gets and applying it, one atomic store write each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe._local_run import LocalRun
from wfe_core import transitions
from wfe_core.errors import WorkflowNotFoundError
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    Lease,
    QueueType,
    WorkflowInstance,
    WorkflowStatus,
)

if TYPE_CHECKING:
    from wfe._runner import InstanceRunner


class EventDelivery:
    """Hands events to waiting instances for the event consumer, and applies those handed to a run.

    Every delivery is one store write (``persist_workflow(deliveries=...)``): the pointer woken, the wait
    closed and the event recorded as consumed by the instance, so a crash never leaves half of it."""

    def __init__(self, runner: InstanceRunner) -> None:
        self.runner = runner

    async def choose_event(self, subscription: EventSubscription, known: Event | None = None) -> Event | None:
        """The oldest event due now (or processed already) that matches the subscription and this instance has
        not consumed yet; ``known``, an event in hand, is not read again when it is that one."""
        r = self.runner
        ids = await r.persistence.get_events(
            subscription.event_name, subscription.event_key, subscription.subscribe_as_of
        )
        if not ids:
            return None
        consumed = await r.persistence.get_consumed_event_ids(
            subscription.workflow_id, subscription.event_name, subscription.event_key
        )
        now = r.clock.now()
        for event_id in ids:
            if event_id in consumed:
                continue
            event = (
                known
                if known is not None and known.id == event_id
                else await r.persistence.get_event(event_id)
            )
            # processed: a host found it due (by its clock, perhaps a little ahead of this one's)
            if event.event_time <= now or event.is_processed:
                return event
        return None

    async def deliver(self, subscription: EventSubscription, event: Event) -> bool:
        """Deliver ``event`` to ``subscription``. False when it is not applied yet (another host holds the
        instance, or a run here applies it after its pass): the caller checks again later."""
        r = self.runner
        delivery = Delivery(subscription_id=subscription.id, event_id=event.id)
        run = r.runs.get(subscription.workflow_id)
        if run is not None:
            # The run applies it after its pass. Report "not yet" so the event consumer checks again later:
            # if the run failed (lost its lease), the retry delivers the event itself.
            if all(queued.subscription_id != subscription.id for queued in run.deliveries):
                run.deliveries.append(delivery)
            run.rerun = True
            return False
        taken = await r.leases.acquire(subscription.workflow_id)
        if taken is None:
            return False
        lease, valid_until = taken
        # The lease's state while it is held here (a host frozen past it writes nothing with it); a run carrying
        # on under the lease takes it over.
        held = LocalRun(lease_valid_until=valid_until)
        carried_on: LocalRun | None = None
        try:
            try:
                with r.leases.fenced(held, lease):
                    await r.persistence.claim_workflow(subscription.workflow_id, lease.fence)
                instance = await r.persistence.get_workflow(subscription.workflow_id)
            except WorkflowNotFoundError:
                await r.persistence.terminate_subscription(subscription.id)
                return True
            # One transaction: the pointer woken, the subscription closed, the event recorded as consumed.
            with r.leases.fenced(held, lease):
                woke = bool(
                    await r.persistence.persist_workflow(
                        instance, pointers=[], deliveries=[delivery], now=r.clock.now(), fence=lease.fence
                    )
                )
            if woke and instance.status is WorkflowStatus.RUNNABLE and r.take_slot_for(instance.id):
                # Carry on under this lease with the instance in hand: no release, queue hop and reload.
                held.instance = instance
                carried_on = r.runs[instance.id] = held
        finally:
            if carried_on is None:
                await r.leases.release(lease)
        if carried_on is not None:
            r.spawn_run(instance, carried_on, lease)
        elif transitions.is_due(instance, r.clock.now()):
            # Woken (due at the delivery's time), or due anyway: a run asked for while this held the lease found
            # it taken and gave up, so the instance is queued again rather than left for the poller.
            await r.queue.enqueue(QueueType.WORKFLOW, instance.id)
        return True

    async def apply(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        r = self.runner
        deliveries = list(run.deliveries)
        with r.leases.fenced(run, lease):
            await r.persistence.persist_workflow(
                instance, pointers=[], deliveries=deliveries, now=r.clock.now(), fence=lease.fence
            )
        del run.deliveries[: len(deliveries)]
