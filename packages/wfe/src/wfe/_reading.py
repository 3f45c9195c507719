"""The host's reading verbs: an instance with its failure records, its errors, waiting for it, and search."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from wfe._lifecycle import LifecycleDispatcher
from wfe._registry import WorkflowRegistry
from wfe._whereabouts import describe_activity
from wfe_core.errors import HostError
from wfe_core.models import (
    ExecutionError,
    Page,
    SearchFilter,
    WorkflowInstance,
    WorkflowSearchResult,
    WorkflowStatus,
)
from wfe_core.protocols import PersistenceProvider, SearchIndex
from wfe_core.transitions import ENDED

log = logging.getLogger("wfe.host")


class ReadingVerbs:
    """The host's verbs that read instances (mixed into ``WorkflowHost``).

    What they return carries the instance's failure records (``WorkflowInstance.errors``), read from the store
    after the instance; the host's own reads (indexing, a wait's polls) use ``_load``, which does not read them."""

    persistence: PersistenceProvider
    registry: WorkflowRegistry
    search_index: SearchIndex | None
    _dispatcher: LifecycleDispatcher

    async def get_workflow(self, workflow_id: str) -> WorkflowInstance:
        """The instance by id or human name, with its data in the definition's data type and its failure
        records in ``errors`` (oldest first)."""
        instance = await self._load(workflow_id)
        instance.errors = await self.persistence.get_errors(instance.id)
        return instance

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        """The failure records of the instance (by id or human name), oldest first."""
        instance = await self.persistence.get_workflow(workflow_id)
        return await self.persistence.get_errors(instance.id)

    async def wait_for_workflow(
        self,
        workflow_id: str,
        timeout: timedelta | float = timedelta(seconds=30),
        *,
        statuses: Sequence[WorkflowStatus] = ENDED,
    ) -> WorkflowInstance:
        """Return the instance (as ``get_workflow`` does) once its status is one of ``statuses`` (default:
        Complete or Terminated). Raises TimeoutError when ``timeout`` passes first, saying what the instance is
        doing: waiting for an event, sleeping, retrying a step after an error, or suspended after one."""
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        instance = await self._dispatcher.wait_for(
            self._load, workflow_id, seconds, statuses, self._describe_activity
        )
        instance.errors = await self.persistence.get_errors(instance.id)
        return instance

    async def search(
        self, terms: str = "", skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        """Search the index (see ``SearchIndex``); needs a search index on the host."""
        if self.search_index is None:
            raise HostError("this host has no search index: WorkflowHostBuilder().use_search_index(...)")
        return await self.search_index.search(terms, skip, take, filters)

    async def _load(self, workflow_id: str) -> WorkflowInstance:
        """The instance with its data in the definition's data type, without its failure records."""
        instance = await self.persistence.get_workflow(workflow_id)
        definition = self.registry.find(instance.workflow_definition_id, instance.version)
        if definition is not None:
            instance.data = definition.load_data(instance.data)
        return instance

    async def _describe_activity(self, instance: WorkflowInstance) -> str:
        try:
            errors = await self.persistence.get_errors(instance.id)
        except Exception:  # the TimeoutError is what the caller waits for: say what the pointers say
            log.warning(
                "reading the errors of %s for a wait's TimeoutError failed", instance.id, exc_info=True
            )
            errors = []
        return describe_activity(instance, errors)
