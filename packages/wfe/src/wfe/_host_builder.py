"""WorkflowHostBuilder: choose providers by URL (or object) and options, then ``build()``."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from wfe._discovery import LIFECYCLE, LOCK, PERSISTENCE, QUEUE, SEARCH, has_provider, resolve, scheme_of
from wfe._host import Phase, WorkflowHost, WorkflowMiddleware
from wfe._options import HostOptions
from wfe._otel import Tracing
from wfe._queues import QueueOptions
from wfe_core.executor import StepMiddleware
from wfe_core.protocols import Clock
from wfe_core.providers.memory import MemoryLifecycleHub, MemoryLock, MemoryPersistence, MemoryQueue
from wfe_core.step import LogSink


class WorkflowHostBuilder:
    """``WorkflowHostBuilder().use_persistence("sqlite:///wfe.db").build()``.

    Every provider defaults to in-memory. Given only a persistence URL whose package also provides a lock and a
    queue (SQLite, PostgreSQL), those are used too, so one URL makes a durable single-store host.
    """

    def __init__(self) -> None:
        self._persistence: Any = None
        self._lock: Any = None
        self._queue: Any = None
        self._search: Any = None
        self._hub: Any = None
        self._options: dict[str, dict[str, Any]] = {}
        self._clock: Clock | None = None
        self._log_sink: LogSink | None = None
        self._host_options = HostOptions()
        self._step_middleware: list[StepMiddleware] = []
        self._workflow_middleware: list[tuple[Phase, WorkflowMiddleware]] = []
        self._tracing: Tracing | None = None
        self._queues: dict[str, QueueOptions] = {}

    def use_persistence(self, provider: Any, **options: Any) -> WorkflowHostBuilder:
        """A URL (``sqlite:///wfe.db``, ``postgresql://...``, ``memory://``) or a PersistenceProvider."""
        self._persistence = provider
        self._options[PERSISTENCE] = options
        return self

    def use_lock(self, provider: Any, **options: Any) -> WorkflowHostBuilder:
        """A URL (``redis://...``, ``postgresql://...``) or a LockProvider."""
        self._lock = provider
        self._options[LOCK] = options
        return self

    def use_queue(self, provider: Any, **options: Any) -> WorkflowHostBuilder:
        """A URL (``redis://...``, ``postgresql://...``) or a QueueProvider."""
        self._queue = provider
        self._options[QUEUE] = options
        return self

    def use_search_index(self, provider: Any, **options: Any) -> WorkflowHostBuilder:
        """A URL (``https://user:pw@opensearch:9200``, ``memory://``) or a SearchIndex."""
        self._search = provider
        self._options[SEARCH] = options
        return self

    def use_lifecycle_hub(self, provider: Any, **options: Any) -> WorkflowHostBuilder:
        """A URL (``redis://...`` so every host sees every event) or a LifecycleHub."""
        self._hub = provider
        self._options[LIFECYCLE] = options
        return self

    def use_clock(self, clock: Clock) -> WorkflowHostBuilder:
        """The time source (``wfe_core.testing.ManualClock`` makes long delays instant in tests)."""
        self._clock = clock
        return self

    def use_log_sink(self, sink: LogSink) -> WorkflowHostBuilder:
        """Where step log lines go as they are written (shell output, script console)."""
        self._log_sink = sink
        return self

    def use_step_middleware(self, middleware: StepMiddleware) -> WorkflowHostBuilder:
        """Wrap every step run: ``async def mw(ctx, body, next_)``; the first registered is the outermost."""
        self._step_middleware.append(middleware)
        return self

    def use_workflow_middleware(self, phase: Phase, middleware: WorkflowMiddleware) -> WorkflowHostBuilder:
        """Run ``middleware(instance)`` before start (``"pre"``, errors reach the caller), after each pass
        (``"execute"``) or on completion (``"post"``)."""
        self._workflow_middleware.append((phase, middleware))
        return self

    def use_opentelemetry(self, tracer_provider: Any = None) -> WorkflowHostBuilder:
        """Trace every pass and step execution with OpenTelemetry (``pip install "wfe[otel]"``); spans go to
        ``tracer_provider`` (default: the global one)."""
        self._tracing = Tracing(tracer_provider)
        return self

    def with_options(self, **options: Any) -> WorkflowHostBuilder:
        """Override HostOptions fields (``poll_interval``, ``lock_ttl``, ``max_concurrent_workflows``, ...)."""
        self._host_options = replace(self._host_options, **options)
        return self

    def add_queue(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        worker_concurrency: int | None = None,
        rate_limit: tuple[int, timedelta] | None = None,
        priority: bool = False,
    ) -> WorkflowHostBuilder:
        """Declare a queue with limits that ``start_workflow(..., queue=name)`` puts instances in.

        ``concurrency``: instances of the queue running at once across every host that shares the store;
        ``worker_concurrency``: on this host; ``rate_limit=(count, period)``: runs started within any period,
        across hosts; ``priority``: waiting instances are served by their ``priority`` (lower first), not in
        the order they came. An instance waiting for an event or sleeping holds no slot. Declare the same
        queue, with the same limits, on every host that runs its workflows."""
        if name in self._queues:
            raise ValueError(f"queue {name!r} is declared twice: call add_queue once per name")
        self._queues[name] = QueueOptions(
            name,
            concurrency=concurrency,
            worker_concurrency=worker_concurrency,
            rate_limit=rate_limit,
            priority=priority,
        )
        return self

    def build(self) -> WorkflowHost:
        persistence = resolve(
            PERSISTENCE, self._persistence or MemoryPersistence(), **self._options.get(PERSISTENCE, {})
        )
        companion = self._persistence if isinstance(self._persistence, str) else None
        lock = self._companion(LOCK, self._lock, companion) or MemoryLock()
        queue = self._companion(QUEUE, self._queue, companion) or MemoryQueue()
        search = (
            resolve(SEARCH, self._search, **self._options.get(SEARCH, {}))
            if self._search is not None
            else None
        )
        hub = (
            resolve(LIFECYCLE, self._hub, **self._options.get(LIFECYCLE, {}))
            if self._hub is not None
            else MemoryLifecycleHub(channel=f"host-{uuid.uuid4()}")
        )
        return WorkflowHost(
            persistence=persistence,
            lock=lock,
            queue=queue,
            search=search,
            lifecycle_hub=hub,
            clock=self._clock,
            options=self._host_options,
            log_sink=self._log_sink,
            step_middleware=self._step_middleware,
            workflow_middleware=self._workflow_middleware,
            tracing=self._tracing,
            queues=list(self._queues.values()),
        )

    def _companion(self, group: str, chosen: Any, persistence_url: str | None) -> Any:
        if chosen is not None:
            return resolve(group, chosen, **self._options.get(group, {}))
        if persistence_url is not None and scheme_of(persistence_url) != "memory":
            if has_provider(group, scheme_of(persistence_url)):
                return resolve(group, persistence_url, **self._options.get(PERSISTENCE, {}))
        return None
