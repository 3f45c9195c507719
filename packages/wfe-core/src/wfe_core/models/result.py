"""What a step returns: ExecutionResult and its factories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wfe_core.models.event_names import ACTIVITY_EVENT_NAME

_UNSET: Any = object()


@dataclass(slots=True)
class ExecutionResult:
    """The outcome of one run of a step; build it with the class-method factories.

    ``proceed`` moves the workflow on along the step's outcomes (those matching ``outcome_value``). Otherwise
    the pointer stays where it is: sleeping (``sleep_for``), waiting for an event (``event_name``), branching
    (``branch_values``), or simply persisting ``persistence_data`` for its next run.

    ``output_data`` (a dict) is merged into the workflow data when the step proceeds (see
    :func:`wfe_core.executor.output_data.merge_output_data` for the rule), before the step's ``.output()``
    mappings run.
    """

    proceed: bool = False
    outcome_value: Any = None
    persistence_data: Any = None
    sleep_for: timedelta | None = None
    event_name: str | None = None
    event_key: str | None = None
    event_as_of: datetime | None = None
    subscription_data: Any = None
    branch_values: list[Any] | None = None
    skipped: bool = False
    output_data: dict[str, Any] | None = None

    @classmethod
    def next(cls, output_data: dict[str, Any] | None = None) -> ExecutionResult:
        """Proceed along the step's plain (value-less) outcomes, merging ``output_data`` into the data."""
        if output_data is None:  # most steps: the first field given by position costs least (a class called
            return cls(True)  # with keywords builds a dict of them for its __init__)
        return cls(proceed=True, output_data=output_data)

    @classmethod
    def outcome(cls, value: Any, output_data: dict[str, Any] | None = None) -> ExecutionResult:
        """Proceed along the outcomes whose value equals ``value`` (and the value-less ones), merging
        ``output_data`` into the data."""
        return cls(proceed=True, outcome_value=value, output_data=output_data)

    @classmethod
    def skip(cls) -> ExecutionResult:
        """Proceed without having done the step's work: the pointer ends SKIPPED and outputs are not applied."""
        return cls(proceed=True, skipped=True)

    @classmethod
    def persist(cls, data: Any) -> ExecutionResult:
        """Stay on this step, keeping ``data`` as its persistence data for the next run."""
        return cls(persistence_data=data)

    @classmethod
    def sleep(cls, duration: timedelta, data: Any = None) -> ExecutionResult:
        """Run this step again after ``duration``."""
        return cls(sleep_for=duration, persistence_data=data)

    @classmethod
    def branch(cls, values: list[Any], data: Any = None) -> ExecutionResult:
        """Start one child branch per value (each child sees its value as ``ctx.item``)."""
        return cls(branch_values=list(values), persistence_data=data)

    @classmethod
    def wait_for_event(cls, name: str, key: str, effective_date: datetime | None = None) -> ExecutionResult:
        """Pause until an event ``name``/``key`` with ``event_time >= effective_date`` is published."""
        return cls(event_name=name, event_key=key, event_as_of=effective_date)

    @classmethod
    def wait_for_activity(
        cls, name: str, params: Any = None, effective_date: datetime | None = None
    ) -> ExecutionResult:
        """Pause until an external worker takes and completes activity ``name`` with ``params``."""
        return cls(
            event_name=ACTIVITY_EVENT_NAME,
            event_key=name,
            event_as_of=effective_date,
            subscription_data=params,
        )
