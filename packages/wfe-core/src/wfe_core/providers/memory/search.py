"""MemorySearchIndex: the ``SearchIndex`` contract over documents held in a dict."""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    Page,
    ReferenceFilter,
    SearchFilter,
    StatusFilter,
    WorkflowInstance,
    WorkflowSearchResult,
    raw_tokens,
    search_terms,
    search_words,
    searchable_texts,
)
from wfe_core.providers.memory.url import check_memory_url
from wfe_core.value_copy import copy_value

_MISSING = object()


@dataclass(slots=True)
class _Document:
    result: WorkflowSearchResult
    reference_words: list[str]
    texts: list[list[str]]
    """Word sequences of every searchable text (reference included)."""
    words: set[str]
    raw_tokens: set[str]
    """Whitespace-separated lowercase tokens, for terms with no word characters at all (such as ``*``)."""


class MemorySearchIndex:
    """In-process ``SearchIndex``.

    Terms match whole words (or consecutive words, for a term such as ``etl-pipeline``) of the reference,
    description, definition id and the strings in the data, case-insensitively; they are never query syntax.
    ``data_type`` is the pydantic class name of model data, else the definition id.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._documents: dict[str, _Document] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build from ``memory://``; ``options`` are constructor keywords."""
        check_memory_url(url, cls.__name__)
        return cls(**options)

    async def start(self) -> None:
        """Nothing to create; idempotent."""

    async def stop(self) -> None:
        """Nothing to release; documents are kept. Idempotent."""

    async def index_workflow(self, instance: WorkflowInstance) -> None:
        document = _document(instance)
        with self._guard:
            self._documents[instance.id] = document

    async def search(
        self, terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        parsed = [(term.lower(), search_words(term)) for term in search_terms(terms)]
        with self._guard:
            ranked: list[tuple[int, float, str, _Document]] = []
            for document in self._documents.values():
                if not all(_passes(document.result, f) for f in filters):
                    continue
                if not all(_term_matches(document, raw, words) for raw, words in parsed):
                    continue
                reference_hit = any(
                    _contains(document.reference_words, words) for _, words in parsed if words
                )
                created = document.result.create_time.timestamp()
                ranked.append((0 if reference_hit else 1, -created, document.result.id, document))
            ranked.sort(key=lambda entry: entry[:3])
            start = max(0, skip)
            page = ranked[start : start + max(0, take)]
            return Page[WorkflowSearchResult](
                data=[entry[3].result.model_copy(deep=True) for entry in page], total=len(ranked)
            )


def _document(instance: WorkflowInstance) -> _Document:
    result = WorkflowSearchResult.from_instance(instance)
    data = result.data = copy_value(result.data)
    texts = searchable_texts(instance, data)
    sequences = [search_words(text) for text in texts]
    return _Document(
        result=result,
        reference_words=sequences[0],
        texts=sequences,
        words={word for sequence in sequences for word in sequence},
        raw_tokens=raw_tokens(texts),
    )


def _contains(sequence: list[str], words: list[str]) -> bool:
    """Whether ``words`` occur consecutively in ``sequence``."""
    n = len(words)
    return any(sequence[i : i + n] == words for i in range(len(sequence) - n + 1))


def _term_matches(document: _Document, raw: str, words: list[str]) -> bool:
    if not words:
        # Nothing word-like (``*``, ``"``, ``\\``): only the literal token itself can match.
        return raw in document.raw_tokens
    if not all(word in document.words for word in words):
        return False
    return len(words) == 1 or any(_contains(sequence, words) for sequence in document.texts)


def _passes(result: WorkflowSearchResult, search_filter: SearchFilter) -> bool:
    if isinstance(search_filter, StatusFilter):
        return result.status == search_filter.status
    if isinstance(search_filter, ReferenceFilter):
        return result.reference == search_filter.reference
    if isinstance(search_filter, DefinitionFilter):
        return result.workflow_definition_id == search_filter.definition_id and (
            search_filter.version is None or result.version == search_filter.version
        )
    if isinstance(search_filter, DateRangeFilter):
        value = result.create_time if search_filter.field == "create_time" else result.complete_time
        if value is None:
            return False
        value = _aware(value)
        if search_filter.after is not None and value < _aware(search_filter.after):
            return False
        return search_filter.before is None or value < _aware(search_filter.before)
    return _data_passes(result, search_filter)


def _data_passes(result: WorkflowSearchResult, search_filter: DataFilter) -> bool:
    if search_filter.data_type is not None and result.data_type != search_filter.data_type:
        return False
    value = _resolve(result.data, search_filter.path)
    if value is _MISSING:
        return False
    if "equals" in search_filter.model_fields_set:
        if search_filter.equals is None:
            if value is not None:
                return False
        else:
            pair = _comparable(value, search_filter.equals)
            if pair is None or pair[0] != pair[1]:
                return False
    bounds: tuple[tuple[Any, Callable[[Any, Any], bool]], ...] = (
        (search_filter.gt, operator.gt),
        (search_filter.gte, operator.ge),
        (search_filter.lt, operator.lt),
        (search_filter.lte, operator.le),
    )
    for bound, holds in bounds:
        if bound is None:
            continue
        pair = _comparable(value, bound)
        if pair is None:
            return False
        try:
            if not holds(*pair):
                return False
        except TypeError:
            return False
    return True


def _resolve(data: Any, path: str) -> Any:
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _comparable(value: Any, bound: Any) -> tuple[Any, Any] | None:
    """The value and bound as two comparable values of one type, or None when their types differ."""
    if isinstance(bound, bool) or isinstance(value, bool):
        return (value, bound) if isinstance(value, bool) and isinstance(bound, bool) else None
    if isinstance(bound, int | float):
        return (value, bound) if isinstance(value, int | float) else None
    if isinstance(bound, datetime):
        moment = _as_datetime(value)
        return (moment, _aware(bound)) if moment is not None else None
    if isinstance(bound, str):
        return (value, bound) if isinstance(value, str) else None
    return (value, bound) if type(value) is type(bound) else None


def _as_datetime(value: Any) -> datetime | None:
    """A datetime, or an ISO string of one (as JSON data holds it), as an aware datetime."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
