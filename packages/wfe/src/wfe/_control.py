"""Status changes asked for from outside an instance: suspend, resume and terminate, with its children."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from wfe._local_run import LocalRun
from wfe_core import transitions
from wfe_core.errors import HostError, WorkflowNotFoundError
from wfe_core.models import Lease, QueueType, WorkflowInstance, WorkflowStatus

if TYPE_CHECKING:
    from wfe._runner import InstanceRunner

log = logging.getLogger("wfe.runner")


class StatusControl:
    """Applies the host's suspend, resume and terminate: through the instance's run when one runs here (at
    the end of its pass), otherwise under the instance's lease. Every change goes through
    ``wfe_core.transitions``; a terminate also terminates the sub-workflows the instance waits for."""

    def __init__(self, runner: InstanceRunner) -> None:
        self.runner = runner

    def request(self, workflow_id: str, *, suspend: bool = False, terminate: bool = False) -> LocalRun | None:
        """Record a suspend/terminate for a run in progress here; a terminate also cancels its running steps."""
        r = self.runner
        run = r.runs.get(workflow_id)
        if run is None:
            return None
        run.suspend = run.suspend or suspend
        run.terminate = run.terminate or terminate
        run.rerun = True
        if terminate:
            run.signal.cancel()
            if run.pass_task is not None and not run.pass_cancelled:
                run.pass_cancelled = True
                run.pass_task.cancel()
        return run

    async def terminate(self, workflow_id: str) -> bool:
        """Terminate the instance (by id): through its run when it runs here, else under its lease. True when
        accepted; its running sub-workflows are terminated with it."""
        if self.request(workflow_id, terminate=True) is not None:
            return True
        return await self.change_status(workflow_id, transitions.Action.TERMINATE)

    async def change_status(self, workflow_id: str, action: transitions.Action) -> bool:
        """Apply ``action`` to an instance no run here advances, under its lease (waiting up to the lease's
        ttl for another host to let go of it). True when the instance was in a status it applies to."""
        r = self.runner
        loop = asyncio.get_running_loop()
        deadline = loop.time() + r.options.lock_ttl.total_seconds() + 5
        while True:
            if workflow_id in r.runs and action is not transitions.Action.RESUME:
                self.request(
                    workflow_id,
                    suspend=action is transitions.Action.SUSPEND,
                    terminate=action is transitions.Action.TERMINATE,
                )
                return True
            taken = await r.leases.acquire(workflow_id)
            if taken is None:
                if loop.time() > deadline:
                    raise HostError(f"could not {action} {workflow_id}: another host holds it; try again")
                await asyncio.sleep(0.05)
                continue
            lease, valid_until = taken
            break
        held = LocalRun(lease_valid_until=valid_until)  # the lease's state while it is held here
        try:
            with r.leases.fenced(held, lease):
                await r.persistence.claim_workflow(workflow_id, lease.fence)
            instance = await r.persistence.get_workflow(workflow_id)
            transition = transitions.apply(action, instance, r.clock.now())
            if transition is not None:
                await self._committed(instance, transition, held, lease)
        finally:
            await r.leases.release(lease)
        if transitions.is_due(instance, r.clock.now()):
            # Resumed, or runnable and left so by an action that did not apply: a run asked for while this
            # held the lease (by the queue, a timer) found it taken and gave up, so the instance is queued
            # again rather than left for the poller's next round.
            await r.queue.enqueue(QueueType.WORKFLOW, workflow_id)
        return transition is not None

    async def apply_requests(self, instance: WorkflowInstance, run: LocalRun, lease: Lease) -> None:
        r = self.runner
        now = r.clock.now()
        transition = (transitions.terminate(instance, now) if run.terminate else None) or (
            transitions.suspend(instance, now) if run.suspend else None
        )
        run.terminate = run.suspend = False
        if transition is None:
            return
        await self._committed(instance, transition, run, lease)

    async def _committed(
        self, instance: WorkflowInstance, transition: transitions.Transition, run: LocalRun, lease: Lease
    ) -> None:
        """Store a status change made under ``lease`` and announce it: its lifecycle event, the parent's
        notice of a terminated sub-workflow (stored in the same write) and the termination of its children."""
        r = self.runner
        terminated = instance.status is WorkflowStatus.TERMINATED
        notice = (
            transitions.ended_notice(instance, r.clock.now(), transitions.TERMINATED_ERROR)
            if terminated
            else None
        )
        with r.leases.fenced(run, lease):
            await r.persistence.persist_workflow(
                instance,
                pointers=transition.changed,
                events=[] if notice is None else [notice],
                fence=lease.fence,
            )
        await r.hooks.publish(transition.event)
        if notice is not None:
            await r.queue.enqueue(QueueType.EVENT, notice.id)
        if terminated:
            for child_id in transitions.child_ids(instance):
                r.spawn(self._terminate_child(child_id))
        if r.hooks.indexing:
            await r.queue.enqueue(QueueType.INDEX, instance.id)

    async def _terminate_child(self, child_id: str) -> None:
        try:
            await self.terminate(child_id)
        except WorkflowNotFoundError:
            pass
        except Exception:
            log.exception(
                "could not terminate sub-workflow %s with its parent; terminate it by hand", child_id
            )

    async def terminate_after_cancel(self, workflow_id: str, run: LocalRun, lease: Lease) -> None:
        """The pass was cancelled to terminate the workflow: drop its partial results and terminate."""
        r = self.runner
        instance = await r.persistence.get_workflow(workflow_id)
        run.instance = instance
        await self.apply_requests(instance, run, lease)
