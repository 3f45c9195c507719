"""Search responses converted into pages of results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wfe_core.errors import SearchError
from wfe_core.models import ExecutionPointer, PointerStatus, StepSummary, WorkflowStatus
from wfe_opensearch import build_document, page_from_response

from .samples import MakeInstance


def response(sources: list[dict[str, Any]], total: Any) -> dict[str, Any]:
    hits = [{"_index": "wfe-workflows-v1", "_id": s.get("id"), "_score": 1.0, "_source": s} for s in sources]
    return {"took": 3, "timed_out": False, "hits": {"total": total, "max_score": 1.0, "hits": hits}}


def test_hits_become_results_and_total_counts_all_matches(make_instance: MakeInstance) -> None:
    instance = make_instance(
        id="wf-1",
        reference="ref3",
        description="Parcel",
        status=WorkflowStatus.COMPLETE,
        complete_time=datetime(2020, 5, 3, tzinfo=UTC),
        data={"Value3": 5},
        execution_pointers=[
            ExecutionPointer(step_id=2, step_name="Wait", status=PointerStatus.WAITING_FOR_EVENT),
            ExecutionPointer(step_id=4, status=PointerStatus.FAILED),
        ],
    )
    page = page_from_response(response([build_document(instance)], {"value": 42, "relation": "eq"}))
    assert page.total == 42
    [result] = page.data
    assert result.id == "wf-1"
    assert result.workflow_definition_id == "order-flow"
    assert result.version == 1
    assert result.reference == "ref3"
    assert result.description == "Parcel"
    assert result.status is WorkflowStatus.COMPLETE
    assert result.data == {"Value3": 5}
    assert result.data_type == "order-flow"
    assert result.create_time == datetime(2020, 5, 1, 12, tzinfo=UTC)
    assert result.complete_time == datetime(2020, 5, 3, tzinfo=UTC)
    assert result.next_execution is None
    assert result.waiting_steps == [StepSummary(step_id=2, name="Wait")]
    assert result.sleeping_steps == []
    assert result.failed_steps == [StepSummary(step_id=4, name=None)]


def test_results_keep_the_hit_order(make_instance: MakeInstance) -> None:
    sources = [build_document(make_instance(id=f"wf-{n}")) for n in (3, 1, 2)]
    page = page_from_response(response(sources, {"value": 3, "relation": "eq"}))
    assert [result.id for result in page.data] == ["wf-3", "wf-1", "wf-2"]


def test_plain_integer_total_is_accepted() -> None:
    assert page_from_response(response([], 7)).total == 7


def test_empty_page() -> None:
    page = page_from_response(response([], {"value": 0, "relation": "eq"}))
    assert page.data == []
    assert page.total == 0


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"hits": {"hits": []}},
        {"hits": {"total": {"value": 1}, "hits": [{"_id": "x"}]}},
        {"hits": {"total": {"value": 1}, "hits": [{"_source": {"id": "x"}}]}},
    ],
)
def test_malformed_responses_raise_search_error(bad: dict[str, Any]) -> None:
    with pytest.raises(SearchError, match="unexpected OpenSearch search response"):
        page_from_response(bad)
