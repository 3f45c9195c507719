"""Host options and their defaults: a frozen, validated model.

Every option is checked when the options are made (``HostOptions(...)``, ``WorkflowHostBuilder.with_options``),
so a wrong type or an out-of-range value is refused before a host is built, with a ``ConfigurationError`` that
names the option and the fix. A duration option takes a ``timedelta`` or a number of seconds (``lock_ttl=30`` is
``timedelta(seconds=30)``); reading it always gives a ``timedelta``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from wfe_core.errors import ConfigurationError
from wfe_core.models import WorkflowInstance
from wfe_core.option_values import refused


def _cpus() -> int:
    return os.cpu_count() or 2


def _refuse(info: ValidationInfo, value: object, must: str, example: str) -> ConfigurationError:
    name = info.field_name
    return ConfigurationError(f"HostOptions.{name} must be {must}, not {value!r}: give e.g. {name}={example}")


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _duration(value: object, info: ValidationInfo, *, allow_zero: bool) -> timedelta:
    must = "a duration of zero or more" if allow_zero else "a duration longer than zero"
    must += " (a timedelta, or a number of seconds)"
    if isinstance(value, timedelta):
        duration = value
    else:
        seconds = _seconds(value)
        if seconds is None:
            raise _refuse(info, value, must, "timedelta(seconds=30)")
        duration = timedelta(seconds=seconds)
    if duration < timedelta(0) or (duration == timedelta(0) and not allow_zero):
        raise _refuse(info, value, must, "timedelta(seconds=30)")
    return duration


def _positive_duration(value: object, info: ValidationInfo) -> timedelta:
    return _duration(value, info, allow_zero=False)


def _optional_non_negative_duration(value: object, info: ValidationInfo) -> timedelta | None:
    return None if value is None else _duration(value, info, allow_zero=True)


def _non_negative_duration(value: object, info: ValidationInfo) -> timedelta:
    return _duration(value, info, allow_zero=True)


def _whole(value: object, info: ValidationInfo, *, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(
            f"HostOptions.{info.field_name} must be a whole number of at least {least}, not {value!r}: "
            f"give e.g. {info.field_name}={max(least, 1) * 10}"
        )
    return value


def _at_least_one(value: object, info: ValidationInfo) -> int:
    return _whole(value, info, least=1)


def _at_least_zero(value: object, info: ValidationInfo) -> int:
    return _whole(value, info, least=0)


def _flag(value: object, info: ValidationInfo) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"HostOptions.{info.field_name} must be True or False, not {value!r}")
    return value


def _pause(value: object, info: ValidationInfo) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    seconds = _seconds(value)
    if seconds is None or seconds <= 0:
        raise ConfigurationError(
            f"HostOptions.{info.field_name} must be a number of seconds longer than zero, not {value!r}: "
            f"give e.g. {info.field_name}=0.1"
        )
    return seconds


def _host_id(value: object, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise _refuse(info, value, "a non-empty printable string", 'host_id="worker-0" (say, the pod name)')
    return value


def _predicate(value: object, info: ValidationInfo) -> Callable[[WorkflowInstance], bool] | None:
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"HostOptions.{info.field_name} must be None or a function of a stored instance returning "
            f"True or False, not {value!r}: give e.g. {info.field_name}=lambda instance: instance.reference == 'mine'"
        )
    return value


PositiveDuration = Annotated[timedelta, PlainValidator(_positive_duration)]
NonNegativeDuration = Annotated[timedelta, PlainValidator(_non_negative_duration)]
AtLeastOne = Annotated[int, PlainValidator(_at_least_one)]


class HostOptions(BaseModel):
    """Tuning knobs of a WorkflowHost; the defaults suit one process on a small machine.

    Frozen and validated: ``HostOptions(poll_interval=-5)`` raises a ``ConfigurationError`` naming the option.
    Durations take a ``timedelta`` or a number of seconds and read back as a ``timedelta``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    poll_interval: PositiveDuration = timedelta(seconds=10)
    """How often the safety-net poller looks for runnable instances and unprocessed events."""
    lock_ttl: PositiveDuration = timedelta(seconds=30)
    """Lease on an instance while it is advanced; renewed every third of it."""
    max_concurrent_workflows: AtLeastOne = 100
    """Instances this host advances at once. Steps are coroutines, so waiting ones cost little (as with
    Temporal's Python worker, whose default is also 100); steps that burn CPU in ``def run`` run in threads
    and share the GIL: add processes for those, not concurrency."""
    start_locally: Annotated[bool, PlainValidator(_flag)] = True
    """A host with a free workflow slot runs an instance it starts itself at once, under a lease taken before
    the instance is stored, instead of queueing it for any host: no queue round trip and no reload. A crash
    before it finishes leaves the instance runnable for the poller. False: every start goes through the
    queue (say, a host that only starts workflows for a fleet of workers)."""
    publish_locally: Annotated[bool, PlainValidator(_flag)] = True
    """A started host with a free event slot delivers an event it publishes itself at once, instead of queueing
    it for any host: no queue round trip and no reload of the event. A crash before the delivery ends leaves
    the event unprocessed for the poller. False: every event goes through the queue."""
    max_concurrent_events: AtLeastOne = Field(default_factory=lambda: max(_cpus(), 2))
    max_passes_per_lease: AtLeastOne = 200
    """Passes one host runs back to back on an instance before re-queueing it (fairness)."""
    idle_time: Annotated[float, PlainValidator(_pause)] = 0.1
    """Pause between polls of a non-blocking queue, in seconds."""
    activity_lease: PositiveDuration = timedelta(minutes=5)
    """How long a worker holds an activity before it is offered again."""
    missing_definition_backoff: PositiveDuration = timedelta(seconds=1)
    missing_definition_backoff_max: PositiveDuration = timedelta(minutes=5)
    retention: Annotated[timedelta | None, PlainValidator(_optional_non_negative_duration)] = None
    """Purge completed/terminated instances and processed events older than this (None: keep everything)."""
    purge_interval: PositiveDuration = timedelta(hours=1)
    stop_timeout: NonNegativeDuration = timedelta(seconds=30)
    """How long ``stop()`` waits for running steps before cancelling them."""
    index_retry_max: Annotated[int, PlainValidator(_at_least_zero)] = 20
    host_id: Annotated[str | None, PlainValidator(_host_id)] = None
    """A stable identity of this host, unique among the live hosts of a store, kept across its restarts (the
    systemd unit's instance name, a Kubernetes StatefulSet pod name). A host that starts takes over at once
    every lease its predecessor with the same identity left behind, instead of waiting for them to lapse. None:
    only leases of a process on this machine that is gone are taken over (enough for SQLite)."""
    schedule_poll_interval: PositiveDuration = timedelta(seconds=1)
    """Longest sleep (in real time) of the schedule loop between two looks at the store's schedules (it
    otherwise sleeps until the earliest next tick, on the host's clock): how soon a schedule added by another
    host is seen."""
    schedule_grace: NonNegativeDuration = timedelta(seconds=30)
    """How late a tick may fire and still count as on time; later ticks were missed (every host was down) and
    a schedule's ``catch_up`` decides whether they run."""
    queue_retry_interval: PositiveDuration = timedelta(seconds=0.5)
    """How often an instance refused a slot of a queue with limits asks again (a slot freed on this host wakes
    its waiters at once; this covers slots freed by other hosts)."""
    accept: Annotated[Callable[[WorkflowInstance], bool] | None, PlainValidator(_predicate)] = None
    """Which stored instances this host runs steps of (None: every instance whose definition it has). One it
    refuses is left as it is, with no error written, for a host that accepts it: the command line, whose
    hosts share one store and each run only the run they started or resume."""

    def __init__(self, **options: Any) -> None:
        try:
            super().__init__(**options)
        except ValidationError as exc:
            raise refused("HostOptions", exc, list(type(self).model_fields)) from None

    @model_validator(mode="after")
    def _backoff_in_order(self) -> HostOptions:
        if self.missing_definition_backoff_max < self.missing_definition_backoff:
            raise ConfigurationError(
                f"HostOptions.missing_definition_backoff_max ({self.missing_definition_backoff_max}) must not be "
                f"shorter than missing_definition_backoff ({self.missing_definition_backoff}): raise the maximum "
                "or lower the first backoff"
            )
        return self

    def with_changes(self, **changes: Any) -> HostOptions:
        """These options with ``changes`` applied, validated like a new ``HostOptions``."""
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return HostOptions(**{**given, **changes})
