"""What a pass stores and announces, and what a run records when a pass cannot be stored or run: values the
store refused, or a definition not registered on this host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wfe._local_run import LocalRun
from wfe_core import transitions
from wfe_core.definition import WorkflowDefinition
from wfe_core.errors import UnstorableDataError, ValueRefusedError, WorkflowDataError
from wfe_core.executor import PassState
from wfe_core.models import (
    ACTIVITY_EVENT_NAME,
    Delivery,
    EventSubscription,
    ExecutionError,
    Lease,
    QueueType,
    WorkflowInstance,
)
from wfe_core.storable import doubtful_values

if TYPE_CHECKING:
    from wfe._runner import InstanceRunner


class PassRecords:
    """Writes each pass of a run to the store (one write under the run's lease) and announces it; turns a
    write the store refused into failures of the steps that ran, and a missing definition into a retry."""

    def __init__(self, runner: InstanceRunner) -> None:
        self.runner = runner
        self.missing_attempts: dict[str, int] = {}
        """How often each instance found its definition missing in a row: the backoff grows with it."""

    async def persist(
        self, instance: WorkflowInstance, state: PassState, lease: Lease, run: LocalRun
    ) -> None:
        """Store what a pass did under its lease, then announce it: lifecycle events, the workflow middleware
        of the execute (and, when it completed, post) phase, the notice to a parent, the search index."""
        r = self.runner
        # the end of the pass's step when the executor knows it: nothing ran since, so it is now
        now = state.ended or r.clock.now()
        notice = (
            None  # (no parent to tell)
            if instance.parent_workflow_id is None
            else transitions.pass_notice(instance, state.completed, state.events, state.errors, now)
        )
        # The failure records first: whoever sees the pass's outcome (a workflow terminated by a failure) finds
        # its errors stored too.
        if state.errors:
            await r.persistence.persist_errors(state.errors)
        # With the subscriptions, the store delivers in the same transaction any event published before them
        # (the woken pointers make the instance due now, and the next pass goes on); a sub-workflow's news
        # for its parent is stored in it too.
        # The pass that completes the instance, when it subscribes and announces nothing and nothing more was
        # asked of the run, ends the run: the store may release the lease with it, in one transaction.
        releaser = r.releaser
        last = (
            releaser is not None
            and state.completed
            and notice is None
            and not state.subscriptions
            and not (run.deliveries or run.rerun or run.terminate or run.suspend)
        )
        with r.leases.fenced(run, lease):
            if last and releaser is not None:
                await releaser.persist_workflow_released(
                    instance, r.leases.lock, lease, pointers=list(state.changed.values()), fence=lease.fence
                )
                run.released = True
            else:
                woke = await r.persistence.persist_workflow(
                    instance,
                    pointers=list(state.changed.values()),
                    subscriptions=state.subscriptions,
                    events=[] if notice is None else [notice],
                    now=now,
                    fence=lease.fence,
                )
                if state.subscriptions:
                    await self._late_events(state.subscriptions, woke)
        if state.events:
            await r.hooks.publish(*state.events)
        hook = r.hooks.workflow_hook
        if hook is not None:
            await hook("execute", instance)
            if state.completed:
                await hook("post", instance)
        if notice is not None:
            await r.queue.enqueue(QueueType.EVENT, notice.id)
        if r.hooks.indexing:
            await r.queue.enqueue(QueueType.INDEX, instance.id)

    async def _late_events(
        self, subscriptions: Sequence[EventSubscription], woke: Sequence[Delivery]
    ) -> None:
        """Hand the run any event its new subscriptions did not take in the write that stored them, though it was
        due by the time the write committed.

        The write takes only events due at the pass's time, which is earlier than its commit: an event published
        meanwhile, which the event consumer found no subscription for (the write had not committed yet), would
        otherwise wait for nobody. Any event committed after this write sees the subscriptions itself."""
        delivery = self.runner.delivery
        taken = {d.subscription_id for d in woke}
        for subscription in subscriptions:
            if subscription.id in taken or subscription.event_name == ACTIVITY_EVENT_NAME:
                continue
            event = await delivery.choose_event(subscription)
            if event is not None:
                await delivery.deliver(subscription, event)  # this run applies it after its pass

    async def refused(
        self,
        instance: WorkflowInstance,
        definition: WorkflowDefinition,
        state: PassState,
        exc: ValueRefusedError,
        run: LocalRun,
        lease: Lease,
    ) -> WorkflowInstance:
        """The store refused what the pass produced (its content, so writing it again fails again): count it
        as a failure of the steps that ran, so their error behaviour applies and bounds the runs. Returns the
        instance as stored, with those failures applied."""
        r = self.runner
        where = doubtful_values(instance, list(state.changed.values())) or ["a value"]
        fresh = await r.persistence.get_workflow(instance.id)
        fresh.data = definition.load_data(fresh.data)
        stored = {p.id for p in fresh.execution_pointers}
        ran = [pointer_id for pointer_id in state.ran if pointer_id in stored]
        # A container that ran in the pass only started its children; the values came from the steps that did
        # work (a YAML step runs inside groups of its own, whose failure would end the run at once).
        leaves = [pointer_id for pointer_id in ran if not instance.pointer(pointer_id).children]
        failures: dict[str, BaseException] = {
            pointer_id: (
                WorkflowDataError(
                    f"step '{instance.pointer(pointer_id).step_name}' left a value no store can keep: {exc}"
                )
                if isinstance(exc, UnstorableDataError)
                else ValueRefusedError(
                    f"step '{instance.pointer(pointer_id).step_name}' produced {', '.join(where)}, which the"
                    f" store refused: {exc}"
                )
            )
            for pointer_id in leaves or ran
        }
        if not failures:
            raise exc
        failed = r.executor.fail_steps(fresh, definition, failures)
        run.instance = fresh
        await self.persist(fresh, failed, lease, run)
        return fresh

    async def definition_missing(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        """The instance's definition is not registered on this host: record the error and try again later,
        each time after a longer delay (up to ``missing_definition_backoff_max``)."""
        r = self.runner
        attempts = self.missing_attempts.get(instance.id, 0)
        self.missing_attempts[instance.id] = attempts + 1
        delay = min(
            r.options.missing_definition_backoff * (2**attempts),
            r.options.missing_definition_backoff_max,
        )
        now = r.clock.now()
        instance.next_execution = now + delay
        with r.leases.fenced(run, lease):
            await r.persistence.persist_workflow(instance, pointers=[], fence=lease.fence)
        await r.persistence.persist_errors(
            [
                ExecutionError(
                    workflow_id=instance.id,
                    error_time=now,
                    message=f"WorkflowNotRegisteredError: workflow '{instance.workflow_definition_id}' version "
                    f"{instance.version} is not registered on this host; retrying in {delay}",
                )
            ]
        )
        r.timers.schedule(QueueType.WORKFLOW.value, instance.id, instance.next_execution)


__all__ = ["PassRecords"]
