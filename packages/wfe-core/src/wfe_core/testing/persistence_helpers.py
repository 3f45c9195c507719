"""What the persistence conformance suites share: typed data, times at the precision they ask of a store, and
builders of the records they write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from wfe_core.models import Event, EventSubscription, ExecutionPointer, WorkflowInstance, new_id


class SuiteData(BaseModel):
    """Typed workflow data used by the suite's data round trip."""

    value1: int = 0
    label: str = ""
    when: datetime | None = None
    tags: list[str] = []


def utc_now() -> datetime:
    """Now, in UTC, cut to whole milliseconds (the precision the suite asks of a store)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


class PersistenceHelpers:
    """Builders of instances, pointers, subscriptions and events for the suites' tests."""

    @staticmethod
    def definition_id() -> str:
        """A definition id no other test uses (names count per definition)."""
        return f"def-{new_id()[-8:]}"

    def instance(self, definition_id: str | None = None, **fields: Any) -> WorkflowInstance:
        values: dict[str, Any] = {
            "workflow_definition_id": definition_id or self.definition_id(),
            "version": 1,
            "create_time": utc_now(),
        }
        values.update(fields)
        return WorkflowInstance(**values)

    @staticmethod
    def pointer(step_id: int = 0, **fields: Any) -> ExecutionPointer:
        return ExecutionPointer(step_id=step_id, **fields)

    @staticmethod
    def subscription(
        workflow_id: str, name: str, key: str, as_of: datetime, **fields: Any
    ) -> EventSubscription:
        values: dict[str, Any] = {"step_id": 1, "execution_pointer_id": new_id()}
        values.update(fields)
        return EventSubscription(
            workflow_id=workflow_id, event_name=name, event_key=key, subscribe_as_of=as_of, **values
        )

    @staticmethod
    def event(name: str, key: str, time: datetime, **fields: Any) -> Event:
        return Event(event_name=name, event_key=key, event_time=time, **fields)
