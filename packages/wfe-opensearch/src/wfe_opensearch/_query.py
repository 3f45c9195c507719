"""The search request: the query DSL built from terms and filters, paging and sort."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wfe_core.errors import SearchError
from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    ReferenceFilter,
    SearchFilter,
    StatusFilter,
    search_terms,
)
from wfe_opensearch._data_fields import field_name_for_path, format_datetime, typed_value
from wfe_opensearch._mapping import RESULT_FIELDS

TERM_FIELDS = ("reference.text^10", "workflow_definition_id.text^3", "description^2", "data_text")
"""The fields terms are matched against, with their boosts."""

REFERENCE_MATCH_BOOST = 1000.0
"""Added to the score of an instance whose reference matches a term: reference matches always rank first."""

_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


def build_query(terms: str, filters: Sequence[SearchFilter] = ()) -> dict[str, Any]:
    """The ``query`` of a search request.

    Each whitespace-separated term becomes one ``multi_match`` of type ``phrase`` over :data:`TERM_FIELDS` in
    ``bool.must``: every term must occur, case-insensitively and as whole words (consecutive words for a term
    such as ``etl-pipeline``), in at least one of those fields. A ``should`` clause per term lifts instances
    whose reference matches it by :data:`REFERENCE_MATCH_BOOST`. Terms are only ever a query *value*; no query
    syntax (``query_string``, wildcards, scripts) is ever built from them. Filters become
    ``term``/``range``/``exists`` clauses in ``bool.filter`` (all must hold); no terms and no filters is
    ``match_all``.
    """
    words = search_terms(terms)
    clauses = [clause for search_filter in filters for clause in filter_clauses(search_filter)]
    if not words and not clauses:
        return {"match_all": {}}
    query: dict[str, Any] = {}
    if words:
        query["must"] = [
            {"multi_match": {"query": word, "type": "phrase", "fields": list(TERM_FIELDS)}} for word in words
        ]
        query["should"] = [
            {
                "constant_score": {
                    "filter": {"match_phrase": {"reference.text": {"query": word}}},
                    "boost": REFERENCE_MATCH_BOOST,
                }
            }
            for word in words
        ]
    if clauses:
        query["filter"] = clauses
    return {"bool": query}


def build_search_body(
    terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
) -> dict[str, Any]:
    """The whole body of a ``_search`` request: query, paging, sort, returned fields and an exact total."""
    if skip < 0 or take < 0:
        raise SearchError(f"skip ({skip}) and take ({take}) must not be negative")
    ranked = bool(terms.strip())
    newest_first: list[dict[str, Any]] = [{"create_time": {"order": "desc"}}, {"id": {"order": "asc"}}]
    return {
        "query": build_query(terms, filters),
        "from": skip,
        "size": take,
        "sort": ([{"_score": {"order": "desc"}}] if ranked else []) + newest_first,
        "track_total_hits": True,
        "_source": list(RESULT_FIELDS),
    }


def filter_clauses(search_filter: SearchFilter) -> list[dict[str, Any]]:
    """The ``bool.filter`` clauses of one filter."""
    if isinstance(search_filter, StatusFilter):
        return [{"term": {"status": search_filter.status.value}}]
    if isinstance(search_filter, ReferenceFilter):
        return [{"term": {"reference": search_filter.reference}}]
    if isinstance(search_filter, DefinitionFilter):
        clauses: list[dict[str, Any]] = [{"term": {"workflow_definition_id": search_filter.definition_id}}]
        if search_filter.version is not None:
            clauses.append({"term": {"version": search_filter.version}})
        return clauses
    if isinstance(search_filter, DateRangeFilter):
        return [_date_range_clause(search_filter)]
    if isinstance(search_filter, DataFilter):
        return _data_clauses(search_filter)
    raise SearchError(
        f"unsupported search filter {search_filter!r}: use one of the filters in wfe_core.models"
    )


def _date_range_clause(search_filter: DateRangeFilter) -> dict[str, Any]:
    bounds: dict[str, str] = {}
    if search_filter.after is not None:
        bounds["gte"] = format_datetime(search_filter.after)
    if search_filter.before is not None:
        bounds["lt"] = format_datetime(search_filter.before)
    if not bounds:
        # Both bounds open: the field only has to be set (a complete_time range means "has completed").
        return {"exists": {"field": search_filter.field}}
    return {"range": {search_filter.field: bounds}}


def _data_clauses(search_filter: DataFilter) -> list[dict[str, Any]]:
    field = field_name_for_path(search_filter.path)
    if field is None:
        raise SearchError(
            f"data filter path {search_filter.path!r} has an empty segment: "
            "give a dotted path such as 'customer.id'"
        )
    clauses: list[dict[str, Any]] = []
    if search_filter.data_type is not None:
        clauses.append({"term": {"data_type": search_filter.data_type}})
    if search_filter.equals is not None:
        family, value = _typed(search_filter, "equals", search_filter.equals)
        clauses.append({"term": {f"{family}.{field}": value}})
    elif "equals" in search_filter.model_fields_set:
        # equals=None given explicitly: the path holds null.
        clauses.append({"term": {"data_null": field}})
    bounds: dict[str, Any] = {}
    families: set[str] = set()
    for operator in _RANGE_OPERATORS:
        bound = getattr(search_filter, operator)
        if bound is not None:
            family, bounds[operator] = _typed(search_filter, operator, bound)
            families.add(family)
    if len(families) > 1:
        raise SearchError(
            f"data filter on {search_filter.path!r} mixes bound types ({', '.join(sorted(families))}): "
            "give every bound the same type (all numbers, all strings or all datetimes)"
        )
    if bounds:
        clauses.append({"range": {f"{families.pop()}.{field}": bounds}})
    if search_filter.equals is None and "equals" not in search_filter.model_fields_set and not bounds:
        # No condition: the path only has to be present.
        clauses.append({"term": {"data_paths": field}})
    return clauses


def _typed(search_filter: DataFilter, operator: str, value: Any) -> tuple[str, Any]:
    found = typed_value(value)
    if found is None:
        raise SearchError(
            f"data filter on {search_filter.path!r}: {operator}={value!r} is not a number, string, bool or "
            "datetime; filter on a scalar field of the data"
        )
    return found
