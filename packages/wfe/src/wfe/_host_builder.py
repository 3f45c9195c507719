"""WorkflowHostBuilder: choose providers by URL (or object) and options, then ``build()``."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from wfe._artifact_store import LocalArtifactStore
from wfe._discovery import LIFECYCLE, LOCK, PERSISTENCE, QUEUE, SEARCH, has_provider, resolve, scheme_of
from wfe._host import Phase, WorkflowHost, WorkflowMiddleware
from wfe._options import HostOptions
from wfe._otel import Tracing
from wfe._queues import QueueOptions
from wfe_core.errors import ArtifactError, ConfigurationError
from wfe_core.executor import StepMiddleware
from wfe_core.protocols import ArtifactStore, Clock
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
        self._artifact_store: str | os.PathLike[str] | ArtifactStore | None = None
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

    def use_artifact_store(self, store: str | os.PathLike[str] | ArtifactStore) -> WorkflowHostBuilder:
        """Where steps keep artifacts: a URL (``file:///var/lib/wfe/artifacts``), a folder, or an
        ArtifactStore. Default: the folder ``<database file>.artifacts`` beside a SQLite store's file, else a
        temporary folder removed when the host stops (so with PostgreSQL, choose a folder every host shares)."""
        if not isinstance(store, (str, os.PathLike)) and not isinstance(store, ArtifactStore):
            raise ArtifactError(
                f"{store!r} is not an artifact store: pass a file:// URL, a folder or an ArtifactStore object"
            )
        self._artifact_store = store
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
        """Override HostOptions fields (``poll_interval``, ``lock_ttl``, ``max_concurrent_workflows``, ...).

        Checked here: a wrong type, an out-of-range value or an unknown name raises ``ConfigurationError``
        naming the option and the fix. Durations take a ``timedelta`` or a number of seconds."""
        self._host_options = self._host_options.with_changes(**options)
        return self

    def with_host_id(self, host_id: str) -> WorkflowHostBuilder:
        """This host's stable identity (``HostOptions.host_id``): unique among live hosts, the same across its
        restarts (a StatefulSet pod name), so a restarted host takes its predecessor's leases over at once."""
        return self.with_options(host_id=host_id)

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
            raise ConfigurationError(f"queue {name!r} is declared twice: call add_queue once per name")
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
            artifact_store=self._artifacts(),
            queues=list(self._queues.values()),
        )

    def _artifacts(self) -> ArtifactStore:
        chosen = self._artifact_store
        if isinstance(chosen, str):
            return LocalArtifactStore.from_url(chosen)
        if isinstance(chosen, os.PathLike):
            return LocalArtifactStore(chosen)
        if chosen is not None:
            return chosen
        database = _sqlite_file(self._persistence)
        if database is None:
            return LocalArtifactStore.in_temporary_folder()
        return LocalArtifactStore(database.with_name(database.name + ".artifacts"))

    def _companion(self, group: str, chosen: Any, persistence_url: str | None) -> Any:
        if chosen is not None:
            return resolve(group, chosen, **self._options.get(group, {}))
        if persistence_url is not None and scheme_of(persistence_url) != "memory":
            if has_provider(group, scheme_of(persistence_url)):
                return resolve(group, persistence_url, **self._options.get(PERSISTENCE, {}))
        return None


def _sqlite_file(persistence: Any) -> Path | None:
    """The database file of a SQLite persistence (URL or object); None for any other or an in-memory one."""
    if isinstance(persistence, str):
        parts = urlsplit(persistence)
        text = unquote(parts.path)
        if parts.scheme != "sqlite" or parts.netloc or len(text) < 2 or ":memory:" in text:
            return None
        return Path(text[1:])  # sqlite:///x.db has path "/x.db" (relative), sqlite:////abs.db "//abs.db"
    path = getattr(getattr(persistence, "database", None), "path", None)
    if type(persistence).__module__.startswith("wfe_sqlite") and isinstance(path, str) and path != ":memory:":
        return Path(path)
    return None
