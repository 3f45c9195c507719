"""Queues with limits: the options of a queue, and the gate a run of a queued instance passes before it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from wfe._options import HostOptions
from wfe_core.errors import ConfigurationError, HostError
from wfe_core.models import SlotRequest, WorkflowInstance, new_id
from wfe_core.protocols import Clock, QueueSlotStore

log = logging.getLogger("wfe.queues")


@dataclass(frozen=True, slots=True)
class QueueOptions:
    """A queue with limits (``WorkflowHostBuilder().add_queue``). ``concurrency`` bounds the instances of the
    queue running at once across every host of the store, ``worker_concurrency`` those on this host;
    ``rate_limit`` (count, period) bounds the runs started within any period across hosts; with ``priority``
    waiting instances are served by their ``priority`` (lower first), otherwise in the order they asked."""

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit: tuple[int, timedelta] | None = None
    priority: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigurationError(f"a queue name must be a non-empty str, not {self.name!r}")
        for field in ("concurrency", "worker_concurrency"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigurationError(
                    f"queue {self.name!r}: {field} must be a whole number of at least 1 or None"
                )
        if self.rate_limit is not None:
            try:
                count, period = self.rate_limit
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"queue {self.name!r}: rate_limit must be (count, timedelta), like (10, timedelta(seconds=1))"
                ) from None
            if (
                not isinstance(count, int)
                or count < 1
                or not isinstance(period, timedelta)
                or period <= timedelta(0)
            ):
                raise ConfigurationError(
                    f"queue {self.name!r}: rate_limit must be (count >= 1, a positive timedelta), not {self.rate_limit!r}"
                )

    @property
    def shared(self) -> bool:
        """Whether the queue's limits are kept in the store (anything but ``worker_concurrency``)."""
        return self.concurrency is not None or self.rate_limit is not None or self.priority


def slot_store_of(queue: object, persistence: object) -> QueueSlotStore | None:
    """Where a host keeps queue slots: its queue provider when that keeps them (Valkey), else its persistence
    provider when that does (memory, SQLite, PostgreSQL)."""
    for provider in (queue, persistence):
        if isinstance(provider, QueueSlotStore):
            return provider
    return None


class QueueGate:
    """Lets a run of an instance of a queue with limits begin only with a slot of its queue, and frees it when
    the run lets go (the instance waits, sleeps, ends or is suspended; this host stops running it).

    A slot of a shared queue is a lease in the ``QueueSlotStore``, renewed every third of ``lock_ttl`` while the
    run holds it, so the slot of a host that died lapses with its instance's lease. A refused instance is
    woken again when a slot of its queue is freed on this host, and otherwise every ``queue_retry_interval``
    (or when a rate limit allows), so a waiter on any host keeps its place among the queue's waiters."""

    def __init__(
        self,
        queues: dict[str, QueueOptions],
        store: QueueSlotStore | None,
        clock: Clock,
        options: HostOptions,
        wake: Callable[[str, datetime], None],
    ) -> None:
        self.queues = queues
        self.store = store
        self.clock = clock
        self.options = options
        self.wake = wake
        self._held: dict[str, tuple[str, str | None]] = {}
        """workflow id -> (queue, token of its slot in the store, None when the queue is not shared)"""
        self._running: dict[str, int] = {}
        self._waiting: dict[str, set[str]] = {}
        self._renewal: asyncio.Task[None] | None = None
        self._warned: set[str] = set()
        shared = [q.name for q in queues.values() if q.shared]
        if shared and store is None:
            raise HostError(
                f"queue {shared[0]!r} has limits shared by every host (concurrency, rate_limit or priority), "
                "which needs a store that keeps queue slots (memory, SQLite, PostgreSQL): use one of them as "
                "persistence, or keep only worker_concurrency"
            )

    def check(self, queue: str | None) -> None:
        """Refuse to start an instance in a queue this host does not know."""
        if queue is not None and queue not in self.queues:
            known = ", ".join(repr(q) for q in self.queues) or "none"
            raise HostError(
                f"no queue named {queue!r} on this host (queues: {known}): "
                f"WorkflowHostBuilder().add_queue({queue!r}, ...)"
            )

    @property
    def ttl(self) -> timedelta:
        return self.options.lock_ttl

    async def enter(self, instance: WorkflowInstance) -> bool:
        """Take a slot for a run of ``instance``; True when it may run now (always, outside a queue)."""
        name = instance.queue
        if name is None or instance.id in self._held:
            return True
        queue = self.queues.get(name)
        if queue is None:
            if name not in self._warned:
                self._warned.add(name)
                log.warning(
                    "instance %s is in queue %r, which this host does not know: it is left to a host that "
                    "has the queue (add_queue(%r, ...) on every host that runs its definition)",
                    instance.id,
                    name,
                    name,
                )
            return False
        if queue.worker_concurrency is not None and self._running.get(name, 0) >= queue.worker_concurrency:
            self._waiting.setdefault(name, set()).add(instance.id)
            return False
        token = None
        if queue.shared:
            assert self.store is not None
            now = self.clock.now()
            retry = self.options.queue_retry_interval
            token = new_id()
            decision = await self.store.acquire_queue_slot(
                SlotRequest(
                    queue=name,
                    workflow_id=instance.id,
                    token=token,
                    now=now,
                    expires_at=now + self.ttl,
                    concurrency=queue.concurrency,
                    rate_limit=queue.rate_limit,
                    priority=instance.priority if queue.priority else 0,
                    waiter_ttl=max(retry * 4, timedelta(seconds=2)),
                    clock=self.clock.now,
                )
            )
            if not decision.granted:
                self._waiting.setdefault(name, set()).add(instance.id)
                self.wake(instance.id, decision.retry_at or now + retry)
                return False
            log.debug(
                "instance %s got a slot of queue %r (decided at %s)",
                instance.id,
                name,
                decision.decided_at,
                extra={"workflow_id": instance.id, "queue": name, "decided_at": decision.decided_at},
            )
        self._held[instance.id] = (name, token)
        self._running[name] = self._running.get(name, 0) + 1
        self._ensure_renewal()
        return True

    async def leave(self, workflow_id: str) -> None:
        """Free the slot the run of ``workflow_id`` holds (nothing when it holds none) and wake this host's
        waiters of its queue."""
        held = self._held.pop(workflow_id, None)
        if held is None:
            return
        name, token = held
        self._running[name] -= 1
        if token is not None and self.store is not None:
            try:
                await self.store.release_queue_slot(token)
            except Exception:
                log.warning(
                    "could not free the slot of %s in queue %r; it lapses after %s",
                    workflow_id,
                    name,
                    self.ttl,
                )
        waiting = self._waiting.pop(name, set())
        now = self.clock.now()
        for waiter in waiting:
            self.wake(waiter, now)

    def _ensure_renewal(self) -> None:
        if self.store is not None and (self._renewal is None or self._renewal.done()):
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            tokens = [token for _, token in self._held.values() if token is not None]
            if not tokens:
                if not self._held:
                    return
                continue
            now = self.clock.now()
            try:
                renewed = set(await self.store.renew_queue_slots(tokens, now, now + self.ttl))
            except Exception:
                log.warning("could not renew queue slots; they lapse after %s unless renewed", self.ttl)
                continue
            asked = set(tokens)  # a slot taken while the renewal was in flight was not asked about
            for workflow_id, (name, token) in list(self._held.items()):
                if token in asked and token not in renewed:
                    log.error(
                        "the slot of %s in queue %r lapsed before its run let go of it", workflow_id, name
                    )

    async def stop(self) -> None:
        task, self._renewal = self._renewal, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._waiting.clear()


__all__ = ["QueueGate", "QueueOptions", "slot_store_of"]
