"""LocalRun: an instance this host is advancing right now, and what was asked of it meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from wfe_core.models import Delivery, WorkflowInstance
from wfe_core.step import CancellationSignal


@dataclass
class LocalRun:
    """An instance this host is advancing right now, and what was asked of it meanwhile."""

    instance: WorkflowInstance | None = None
    pass_task: asyncio.Task[Any] | None = None
    """The task running this run's pass while it runs (a terminate cancels it)."""
    pass_cancelled: bool = False
    """A terminate cancelled ``pass_task``."""
    signal: CancellationSignal = field(default_factory=CancellationSignal)
    rerun: bool = False
    suspend: bool = False
    terminate: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    """Events the event consumer handed to this run to apply under its lease (each still unprocessed in the
    store, so the consumer delivers it again if this run cannot)."""
    passes_run: int = 0
    """Passes this run has begun; once the host stops, a run that has begun one begins no other."""
    lease_lost: bool = False
    released: bool = False
    """The run's last pass released the lease with its write (``ReleasingPersist``): nothing left to release."""
    waiting: bool = False
    """A new instance started while every workflow slot was busy: it holds a place in line, not a slot yet."""
    lease_valid_until: float = 0.0
    """The ``time.monotonic()`` until which the lease is surely held: ttl after the last acquire or renewal was
    asked for. A host frozen past it (SIGSTOP, a long GC pause) finds it lapsed and writes nothing."""
