"""The query DSL built from terms, filters and paging arguments."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from wfe_core.errors import SearchError
from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    ReferenceFilter,
    StatusFilter,
    WorkflowStatus,
)
from wfe_opensearch import REFERENCE_MATCH_BOOST, TERM_FIELDS, build_query, build_search_body

MULTI_MATCH_FIELDS = ["reference.text^10", "workflow_definition_id.text^3", "description^2", "data_text"]


def term_clauses(*words: str) -> dict[str, list[dict[str, Any]]]:
    """The ``must`` and ``should`` clauses documented for these whitespace-separated terms."""
    return {
        "must": [
            {"multi_match": {"query": word, "type": "phrase", "fields": MULTI_MATCH_FIELDS}} for word in words
        ],
        "should": [
            {
                "constant_score": {
                    "filter": {"match_phrase": {"reference.text": {"query": word}}},
                    "boost": 1000.0,
                }
            }
            for word in words
        ],
    }


def test_no_terms_and_no_filters_match_everything() -> None:
    assert build_query("") == {"match_all": {}}
    assert build_query("   \t\n") == {"match_all": {}}


def test_each_term_is_a_phrase_multi_match_that_must_hold() -> None:
    assert build_query("dog fox") == {"bool": term_clauses("dog", "fox")}


def test_terms_split_on_any_whitespace_and_keep_their_case_and_punctuation() -> None:
    assert build_query("  quick\tFox  etl-pipeline\n") == {
        "bool": term_clauses("quick", "Fox", "etl-pipeline")
    }


def test_reference_matches_are_lifted_above_every_other_score() -> None:
    should = build_query("invoice")["bool"]["should"]
    assert should == term_clauses("invoice")["should"]
    assert REFERENCE_MATCH_BOOST >= 1000


def test_reference_has_the_highest_boost() -> None:
    boosts = {field.split("^")[0]: int(field.split("^")[1]) if "^" in field else 1 for field in TERM_FIELDS}
    assert max(boosts, key=lambda field: boosts[field]) == "reference.text"


def test_status_filter_is_a_term() -> None:
    query = build_query("", [StatusFilter(status=WorkflowStatus.SUSPENDED)])
    assert query == {"bool": {"filter": [{"term": {"status": "Suspended"}}]}}


def test_reference_filter_is_an_exact_term_on_the_keyword() -> None:
    query = build_query("", [ReferenceFilter(reference="ORD 42")])
    assert query == {"bool": {"filter": [{"term": {"reference": "ORD 42"}}]}}


def test_definition_filter_with_and_without_version() -> None:
    assert build_query("", [DefinitionFilter(definition_id="order-flow")]) == {
        "bool": {"filter": [{"term": {"workflow_definition_id": "order-flow"}}]}
    }
    assert build_query("", [DefinitionFilter(definition_id="order-flow", version=2)]) == {
        "bool": {"filter": [{"term": {"workflow_definition_id": "order-flow"}}, {"term": {"version": 2}}]}
    }


def test_date_range_is_after_inclusive_before_exclusive_in_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    search_filter = DateRangeFilter(
        field="create_time",
        after=datetime(2000, 1, 1, tzinfo=UTC),
        before=datetime(2015, 1, 1, 1, tzinfo=plus_one),
    )
    assert build_query("", [search_filter]) == {
        "bool": {
            "filter": [
                {
                    "range": {
                        "create_time": {"gte": "2000-01-01T00:00:00+00:00", "lt": "2015-01-01T00:00:00+00:00"}
                    }
                }
            ]
        }
    }


def test_date_range_with_one_open_bound() -> None:
    query = build_query("", [DateRangeFilter(field="complete_time", before=datetime(2020, 1, 1, tzinfo=UTC))])
    assert query == {"bool": {"filter": [{"range": {"complete_time": {"lt": "2020-01-01T00:00:00+00:00"}}}]}}


def test_date_range_with_both_bounds_open_requires_the_field() -> None:
    query = build_query("", [DateRangeFilter(field="complete_time")])
    assert query == {"bool": {"filter": [{"exists": {"field": "complete_time"}}]}}


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        (7, "data_num.value", 7),
        (2.5, "data_num.value", 2.5),
        ("7", "data_str.value", "7"),
        (True, "data_bool.value", True),
        (False, "data_bool.value", False),
        (datetime(2000, 1, 1, tzinfo=UTC), "data_date.value", "2000-01-01T00:00:00+00:00"),
        (date(2000, 1, 1), "data_date.value", "2000-01-01T00:00:00+00:00"),
    ],
)
def test_data_equality_picks_the_typed_field_of_the_value(value: Any, field: str, expected: Any) -> None:
    query = build_query("", [DataFilter(path="value", equals=value)])
    assert query == {"bool": {"filter": [{"term": {field: expected}}]}}


def test_data_filter_with_data_type_narrows_to_that_type() -> None:
    query = build_query("", [DataFilter(path="Value3", equals=7, data_type="DataObject")])
    assert query == {
        "bool": {"filter": [{"term": {"data_type": "DataObject"}}, {"term": {"data_num.Value3": 7}}]}
    }


def test_data_path_is_flattened_like_documents() -> None:
    query = build_query("", [DataFilter(path="customer.address.zip", equals="12345")])
    assert query == {"bool": {"filter": [{"term": {"data_str.customer/address/zip": "12345"}}]}}
    escaped = build_query("", [DataFilter(path="a/b.c~d", equals=1)])
    assert escaped == {"bool": {"filter": [{"term": {"data_num.a~1b/c~0d": 1}}]}}


def test_data_range_on_numbers() -> None:
    query = build_query("", [DataFilter(path="total", gt=10, lte=99.5)])
    assert query == {"bool": {"filter": [{"range": {"data_num.total": {"gt": 10, "lte": 99.5}}}]}}


def test_data_range_on_datetimes() -> None:
    search_filter = DataFilter(
        path="Value2",
        gt=datetime(1999, 12, 31, tzinfo=UTC),
        lt=datetime(2000, 1, 2, tzinfo=UTC),
        data_type="AltDataObject",
    )
    assert build_query("", [search_filter]) == {
        "bool": {
            "filter": [
                {"term": {"data_type": "AltDataObject"}},
                {
                    "range": {
                        "data_date.Value2": {
                            "gt": "1999-12-31T00:00:00+00:00",
                            "lt": "2000-01-02T00:00:00+00:00",
                        }
                    }
                },
            ]
        }
    }


def test_data_range_on_strings_compares_strings() -> None:
    query = build_query("", [DataFilter(path="code", gte="A", lt="M")])
    assert query == {"bool": {"filter": [{"range": {"data_str.code": {"gte": "A", "lt": "M"}}}]}}


def test_data_equality_and_range_together() -> None:
    query = build_query("", [DataFilter(path="n", equals=5, gte=1)])
    assert query == {"bool": {"filter": [{"term": {"data_num.n": 5}}, {"range": {"data_num.n": {"gte": 1}}}]}}


@pytest.mark.parametrize(
    ("search_filter", "message"),
    [
        (DataFilter(path="n", gt=1, lt="z"), "mixes bound types"),
        (DataFilter(path="n", equals={"a": 1}), "not a number, string, bool or datetime"),
        (DataFilter(path="n", equals=[1, 2]), "not a number, string, bool or datetime"),
        (DataFilter(path="a..b", equals=1), "empty segment"),
        (DataFilter(path="", equals=1), "empty segment"),
    ],
)
def test_unusable_data_filters_raise_search_error_naming_the_fix(
    search_filter: DataFilter, message: str
) -> None:
    with pytest.raises(SearchError, match=message):
        build_query("", [search_filter])


def test_terms_and_filters_combine_in_one_bool() -> None:
    query = build_query(
        "fox", [StatusFilter(status=WorkflowStatus.RUNNABLE), DataFilter(path="n", equals=1, data_type="T")]
    )
    assert query == {
        "bool": {
            **term_clauses("fox"),
            "filter": [
                {"term": {"status": "Runnable"}},
                {"term": {"data_type": "T"}},
                {"term": {"data_num.n": 1}},
            ],
        }
    }


MALICIOUS_TERMS = [
    '"quoted phrase"',
    "*",
    "ref* OR 1",
    "a OR b AND NOT c",
    "status:Complete",
    "_id:123",
    '{"script": {"source": "ctx._source.x = 1"}}',
    "\\\\ back\\slash \\",
    "<script>alert(1)</script>",
    "(a) [b TO c] {d} ~2 ^5 /regex/ +must -not && || !",
]


@pytest.mark.parametrize("terms", MALICIOUS_TERMS)
def test_malicious_terms_are_only_ever_a_query_value(terms: str) -> None:
    body = build_search_body(terms, 0, 10, [StatusFilter(status=WorkflowStatus.RUNNABLE)])
    assert body["query"]["bool"]["must"] == term_clauses(*terms.split())["must"]
    assert body["query"]["bool"]["should"] == term_clauses(*terms.split())["should"]
    # Each term appears only as the "query" value of a phrase multi_match and of a match_phrase, and no clause
    # that interprets syntax or runs code exists anywhere in the request.
    values = list(_query_values(body))
    assert sorted(values) == sorted(terms.split() * 2)
    serialized = json.dumps(body)
    for word in terms.split():
        assert serialized.count(json.dumps(word)) == 2
    keys = set(_all_keys(body))
    for forbidden in ("query_string", "simple_query_string", "script", "script_score", "wildcard", "regexp"):
        assert forbidden not in keys


def _query_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["query"]] if isinstance(value.get("query"), str) else []
        return found + [item for child in value.values() for item in _query_values(child)]
    if isinstance(value, list):
        return [item for child in value for item in _query_values(child)]
    return []


def _all_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [key for key, item in value.items() for key in [key, *_all_keys(item)]]
    if isinstance(value, list):
        return [key for item in value for key in _all_keys(item)]
    return []


def test_malicious_filter_values_stay_term_values() -> None:
    nasty = '{"script": "x"} OR *:*'
    query = build_query("", [ReferenceFilter(reference=nasty), DataFilter(path="n", equals=nasty)])
    assert query == {"bool": {"filter": [{"term": {"reference": nasty}}, {"term": {"data_str.n": nasty}}]}}


def test_paging_sort_fields_and_exact_total() -> None:
    body = build_search_body("", skip=20, take=5)
    assert body["from"] == 20
    assert body["size"] == 5
    assert body["track_total_hits"] is True
    assert body["sort"] == [{"create_time": {"order": "desc"}}, {"id": {"order": "asc"}}]
    assert body["_source"] == [
        "id",
        "workflow_definition_id",
        "version",
        "description",
        "reference",
        "status",
        "data",
        "data_type",
        "create_time",
        "complete_time",
        "next_execution",
        "waiting_steps",
        "sleeping_steps",
        "failed_steps",
    ]


def test_terms_sort_by_relevance_first() -> None:
    body = build_search_body("fox", take=100)
    assert body["sort"] == [
        {"_score": {"order": "desc"}},
        {"create_time": {"order": "desc"}},
        {"id": {"order": "asc"}},
    ]
    assert (body["from"], body["size"]) == (0, 100)


@pytest.mark.parametrize(("skip", "take"), [(-1, 10), (0, -5)])
def test_negative_paging_is_refused(skip: int, take: int) -> None:
    with pytest.raises(SearchError, match="must not be negative"):
        build_search_body("", skip, take)


def test_data_filter_without_condition_requires_the_path() -> None:
    query = build_query("", [DataFilter(path="customer.id")])
    assert query == {"bool": {"filter": [{"term": {"data_paths": "customer/id"}}]}}


def test_data_filter_equals_none_matches_null() -> None:
    query = build_query("", [DataFilter(path="note", equals=None, data_type="T")])
    assert query == {"bool": {"filter": [{"term": {"data_type": "T"}}, {"term": {"data_null": "note"}}]}}
