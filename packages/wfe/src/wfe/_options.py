"""Host options and their defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from wfe_core.models import WorkflowInstance


def _cpus() -> int:
    return os.cpu_count() or 2


@dataclass(slots=True)
class HostOptions:
    """Tuning knobs of a WorkflowHost; the defaults suit one process on a small machine."""

    poll_interval: timedelta = timedelta(seconds=10)
    """How often the safety-net poller looks for runnable instances and unprocessed events."""
    lock_ttl: timedelta = timedelta(seconds=30)
    """Lease on an instance while it is advanced; renewed every third of it."""
    max_concurrent_workflows: int = 100
    """Instances this host advances at once. Steps are coroutines, so waiting ones cost little (as with
    Temporal's Python worker, whose default is also 100); steps that burn CPU in ``def run`` run in threads
    and share the GIL: add processes for those, not concurrency."""
    start_locally: bool = True
    """A host with a free workflow slot runs an instance it starts itself at once, under a lease taken before
    the instance is stored, instead of queueing it for any host: no queue round trip and no reload. A crash
    before it finishes leaves the instance runnable for the poller. False: every start goes through the
    queue (say, a host that only starts workflows for a fleet of workers)."""
    max_concurrent_events: int = field(default_factory=lambda: max(_cpus(), 2))
    max_passes_per_lease: int = 200
    """Passes one host runs back to back on an instance before re-queueing it (fairness)."""
    idle_time: float = 0.1
    """Pause between polls of a non-blocking queue."""
    activity_lease: timedelta = timedelta(minutes=5)
    """How long a worker holds an activity before it is offered again."""
    missing_definition_backoff: timedelta = timedelta(seconds=1)
    missing_definition_backoff_max: timedelta = timedelta(minutes=5)
    retention: timedelta | None = None
    """Purge completed/terminated instances and processed events older than this (None: keep everything)."""
    purge_interval: timedelta = timedelta(hours=1)
    stop_timeout: timedelta = timedelta(seconds=30)
    """How long ``stop()`` waits for running steps before cancelling them."""
    index_retry_max: int = 20
    queue_retry_interval: timedelta = timedelta(seconds=0.5)
    """How often an instance refused a slot of a queue with limits asks again (a slot freed on this host wakes
    its waiters at once; this covers slots freed by other hosts)."""
    accept: Callable[[WorkflowInstance], bool] | None = None
    """Which stored instances this host runs steps of (None: every instance whose definition it has). One it
    refuses is left as it is, with no error written, for a host that accepts it: the command line, whose
    hosts share one store and each run only the run they started or resume."""

    def __post_init__(self) -> None:
        for name in ("max_concurrent_workflows", "max_concurrent_events", "max_passes_per_lease"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"HostOptions.{name} must be a whole number of at least 1, not {value!r}")
