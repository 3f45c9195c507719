"""Events, event subscriptions and scheduled commands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from wfe_core.models.event_names import ACTIVITY_EVENT_NAME, WORKFLOW_ENDED_EVENT_NAME
from wfe_core.models.instance import new_id

__all__ = [
    "ACTIVITY_EVENT_NAME",
    "WORKFLOW_ENDED_EVENT_NAME",
    "CommandName",
    "Delivery",
    "Event",
    "EventSubscription",
    "ScheduledCommand",
]


class Event(BaseModel):
    """A published event. ``event_time`` is its effective date."""

    id: str = Field(default_factory=new_id)
    event_name: str
    event_key: str
    event_data: Any = None
    event_time: datetime
    is_processed: bool = False


class EventSubscription(BaseModel):
    """A waiting pointer's interest in events with ``event_name`` and ``event_key``.

    An event matches when its ``event_time >= subscribe_as_of``. The ``external_*`` fields lease an activity to
    an external worker: a token set by ``set_subscription_token`` that lapses at ``external_token_expiry``.
    """

    id: str = Field(default_factory=new_id)
    workflow_id: str
    step_id: int
    execution_pointer_id: str
    event_name: str
    event_key: str
    subscribe_as_of: datetime
    subscription_data: Any = None
    external_token: str | None = None
    external_worker_id: str | None = None
    external_token_expiry: datetime | None = None


class Delivery(BaseModel):
    """An event handed to a subscription: what ``PersistenceProvider.persist_workflow`` applies atomically."""

    subscription_id: str
    event_id: str


class CommandName(StrEnum):
    """What a scheduled command does when it comes due."""

    PROCESS_WORKFLOW = "ProcessWorkflow"
    PROCESS_EVENT = "ProcessEvent"


class ScheduledCommand(BaseModel):
    """A deferred "queue this id" instruction kept in the store."""

    command_name: CommandName
    data: str
    execute_time: datetime
