"""What a test prints about a workflow that did not finish: its pointers and the events for its key."""

from __future__ import annotations

from wfe import WorkflowHost


async def describe(host: WorkflowHost, workflow_id: str, event_name: str = "go") -> str:
    """Where an unfinished workflow stands: its pointers and the events for its key."""
    instance = await host.get_workflow(workflow_id)
    lines = [f"{workflow_id}: {instance.status.value}, next execution {instance.next_execution}"]
    for pointer in instance.execution_pointers:
        lines.append(
            f"  {pointer.step_name}: {pointer.status.value} active={pointer.active}"
            f" event_published={pointer.event_published}"
        )
    key = instance.data["key"]
    for event_id in await host.persistence.get_events(event_name, key, instance.create_time):
        event = await host.persistence.get_event(event_id)
        lines.append(f"  event {event_id}: processed={event.is_processed}")
    consumed = await host.persistence.get_consumed_event_ids(workflow_id, event_name, key)
    lines.append(f"  consumed events: {sorted(consumed)}")
    return "\n".join(lines)
