"""The search index protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from wfe_core.models import Page, SearchFilter, WorkflowInstance, WorkflowSearchResult


@runtime_checkable
class SearchIndex(Protocol):
    """Indexes instances and answers searches.

    Contract:

    * ``index_workflow`` upserts by instance id and is idempotent; indexing an older state after a newer one is
      allowed to win (the index consumer re-indexes after every change).
    * ``search(terms, ...)``: whitespace-separated terms, each matching (case-insensitively, as a word) the
      reference, description, definition id or any text in the data; an instance matches when every term does.
      Empty terms match everything. Terms are data, never query syntax. Filters all apply (AND).
    * Results are ordered by relevance for terms (a reference match ranks first), else newest first;
      ``skip``/``take`` page them and ``Page.total`` counts all matches.
    * Failures raise ``SearchError``; the engine retries indexing with backoff and never fails a workflow for it.
    """

    async def start(self) -> None:
        """Create the index if missing. Idempotent."""

    async def stop(self) -> None:
        """Release connections. Idempotent."""

    async def index_workflow(self, instance: WorkflowInstance) -> None:
        """Add or replace the instance's document."""

    async def search(
        self, terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        """One page of matching instances."""
