"""Properties that hold for any data and any terms."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wfe_core.models import WorkflowInstance
from wfe_opensearch import MAPPING, build_document, build_query

_json_leaves = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text()
)
_json = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _instance(data: Any) -> WorkflowInstance:
    return WorkflowInstance(
        id="wf",
        workflow_definition_id="def",
        version=1,
        data=data,
        create_time=datetime(2020, 1, 1, tzinfo=UTC),
    )


@given(_json)
def test_any_json_data_gives_a_valid_document(data: Any) -> None:
    document = build_document(_instance(data))
    json.dumps(document, allow_nan=False)
    assert set(document) == set(MAPPING["properties"])
    assert document["data"] == _without_non_finite(data)
    for family in ("data_num", "data_str", "data_date", "data_bool"):
        for name in document[family]:
            assert name and "." not in name
    for name in document["data_paths"] + document["data_null"]:
        assert name and "." not in name


@given(st.text())
def test_any_terms_are_only_phrase_values(terms: str) -> None:
    query = build_query(terms)
    words = terms.split()
    if not words:
        assert query == {"match_all": {}}
        return
    must, should = query["bool"]["must"], query["bool"]["should"]
    assert [clause["multi_match"]["query"] for clause in must] == words
    assert {clause["multi_match"]["type"] for clause in must} == {"phrase"}
    assert [
        clause["constant_score"]["filter"]["match_phrase"]["reference.text"]["query"] for clause in should
    ] == words
    assert set(query) == {"bool"} and set(query["bool"]) == {"must", "should"}


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_non_finite(item) for item in value]
    return value
