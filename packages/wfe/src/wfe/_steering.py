"""The host's verbs that act on instances once started: publishing the events they wait for, and suspend,
resume and terminate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wfe._consumers import Consumers
from wfe._options import HostOptions
from wfe._runner import InstanceRunner
from wfe._timers import WakeupTimers
from wfe_core.data_limits import check_data
from wfe_core.models import Event, QueueType, WorkflowStatus
from wfe_core.protocols import Clock, PersistenceProvider, QueueProvider
from wfe_core.transitions import ENDED, Action


class SteeringVerbs:
    """The host's event and steering verbs (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    queue: QueueProvider
    clock: Clock
    options: HostOptions
    _timers: WakeupTimers
    _runner: InstanceRunner
    _consumers: Consumers
    _started: bool

    # -- events and steering -------------------------------------------------------------------------------

    async def publish_event(
        self, event_name: str, event_key: str, event_data: Any = None, effective_date: datetime | None = None
    ) -> str:
        """Store an event and deliver it; every instance waiting for this name and key (now or later, with a
        subscription as of its effective date or earlier) receives it once. A started host with a free event
        slot delivers an event due now itself (``publish_locally``); otherwise it is queued for any host."""
        check_data(event_data, "event data")
        now = self.clock.now()
        event = Event(
            event_name=event_name,
            event_key=event_key,
            event_data=event_data,
            event_time=effective_date or now,
        )
        await self.persistence.create_event(event)
        due = event.event_time <= now
        # Delivered here when it can be, without the queue's round trip (see HostOptions.publish_locally).
        local = due and self._started and self.options.publish_locally
        if local and self._consumers.deliver_published(event):
            return event.id
        await self.queue.enqueue(QueueType.EVENT, event.id)
        if not due and self._started:
            self._timers.schedule(QueueType.EVENT.value, event.id, event.event_time)
        return event.id

    async def suspend_workflow(self, workflow_id: str) -> bool:
        """Suspend a runnable instance; True when accepted. A pass in progress finishes first. Its running
        sub-workflows carry on (suspend them by their own ids)."""
        instance = await self.persistence.get_workflow(workflow_id)
        run = self._runner.control.request(instance.id, suspend=True)
        if run is not None:
            current = run.instance or instance
            return current.status is WorkflowStatus.RUNNABLE
        return await self._runner.control.change_status(instance.id, Action.SUSPEND)

    async def resume_workflow(self, workflow_id: str) -> bool:
        """Resume a suspended instance (a step whose retries were exhausted runs again); True when accepted."""
        instance = await self.persistence.get_workflow(workflow_id)
        return await self._runner.control.change_status(instance.id, Action.RESUME)

    async def terminate_workflow(self, workflow_id: str) -> bool:
        """Terminate an instance that has not ended, and its running sub-workflows (recursively); running
        steps are cancelled. True when accepted."""
        instance = await self.persistence.get_workflow(workflow_id)
        if instance.status in ENDED:
            return False
        return await self._runner.control.terminate(instance.id)


__all__ = ["SteeringVerbs"]
