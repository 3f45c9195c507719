"""Search responses turned into result pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from wfe_core.errors import SearchError
from wfe_core.models import Page, WorkflowSearchResult


def page_from_response(response: Mapping[str, Any]) -> Page[WorkflowSearchResult]:
    """The page a ``_search`` response describes: each hit's ``_source`` and ``hits.total``."""
    try:
        hits = response["hits"]
        total = hits["total"]
        # Servers answer {"value": n, "relation": "eq"}; an old-style plain integer is accepted too.
        count = int(total["value"] if isinstance(total, Mapping) else total)
        results = [WorkflowSearchResult.model_validate(hit["_source"]) for hit in hits["hits"]]
    except (LookupError, TypeError, ValueError, ValidationError) as exc:
        raise SearchError(
            f"unexpected OpenSearch search response ({exc}): is the index a wfe workflow index?"
        ) from exc
    return Page[WorkflowSearchResult](data=results, total=count)
