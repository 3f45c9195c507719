"""The provider against a real OpenSearch server (``WFE_TEST_OPENSEARCH_URL``).

Each test gets its own index (deleted afterwards); writes use ``refresh=True`` so searches see them at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from wfe_core.errors import SearchError
from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    ReferenceFilter,
    StatusFilter,
    WorkflowInstance,
    WorkflowSearchResult,
    WorkflowStatus,
    new_id,
)
from wfe_core.testing.services import service_url
from wfe_opensearch import OpenSearchIndex

pytestmark = pytest.mark.opensearch


class DataObject(BaseModel):
    Value1: str | None = None
    Value2: str | None = None
    Value3: int = 0


class AltDataObject(BaseModel):
    Value1: int
    Value2: datetime


def opensearch_url() -> str:
    return service_url(
        "WFE_TEST_OPENSEARCH_URL", why="OpenSearch cannot run on this machine", required_in_ci=False
    )


@pytest.fixture
async def search_index() -> AsyncIterator[OpenSearchIndex]:
    provider = OpenSearchIndex.from_url(opensearch_url(), index=f"wfe-test-{new_id()}", refresh=True)
    await provider.start()
    try:
        yield provider
    finally:
        await provider.client.indices.delete(index=provider.concrete_index, ignore_unavailable=True)
        await provider.stop()


def instance(
    key: str, year: int, status: WorkflowStatus, data: object = None, definition: str = "search-test"
) -> WorkflowInstance:
    return WorkflowInstance(
        id=f"{key}-{new_id()}",
        workflow_definition_id=definition,
        version=1,
        reference=key,
        status=status,
        data=data,
        create_time=datetime(year, 6, 1, tzinfo=UTC),
        complete_time=datetime(year, 6, 2, tzinfo=UTC) if status is WorkflowStatus.COMPLETE else None,
    )


@pytest.fixture
async def population(search_index: OpenSearchIndex) -> dict[str, WorkflowInstance]:
    """The data set of the reference search suite, keyed by reference."""
    instances = [
        instance("ref1", 2010, WorkflowStatus.RUNNABLE),
        instance("ref2", 2020, WorkflowStatus.RUNNABLE, DataObject(Value3=7)),
        instance(
            "ref3", 2010, WorkflowStatus.COMPLETE, DataObject(Value1="quick fox", Value2="lazy dog", Value3=5)
        ),
        instance(
            "ref4",
            2010,
            WorkflowStatus.COMPLETE,
            AltDataObject(Value1=9, Value2=datetime(2000, 1, 1, tzinfo=UTC)),
        ),
    ]
    for item in instances:
        await search_index.index_workflow(item)
    return {item.reference or "": item for item in instances}


def references(results: Sequence[WorkflowSearchResult]) -> set[str | None]:
    return {result.reference for result in results}


async def test_search_on_reference(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    assert references((await search_index.search("ref1")).data) == {"ref1"}
    assert references((await search_index.search("ref2")).data) == {"ref2"}


async def test_search_on_custom_data(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search("dog fox")
    assert references(page.data) == {"ref3"}
    assert page.total == 1


async def test_every_term_must_match_but_in_any_field(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    assert references((await search_index.search("ref3 FOX")).data) == {"ref3"}
    assert (await search_index.search("ref2 fox")).total == 0


async def test_filter_on_custom_data(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search(
        "", filters=[DataFilter(path="Value3", equals=7, data_type="DataObject")]
    )
    assert references(page.data) == {"ref2"}


async def test_same_field_names_with_other_types_do_not_clash(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    equals = DataFilter(path="Value1", equals=9, data_type="AltDataObject")
    assert references((await search_index.search("", filters=[equals])).data) == {"ref4"}
    between = DataFilter(
        path="Value2",
        gt=datetime(1999, 12, 31, tzinfo=UTC),
        lt=datetime(2000, 1, 2, tzinfo=UTC),
        data_type="AltDataObject",
    )
    assert references((await search_index.search("", filters=[between])).data) == {"ref4"}
    as_text = DataFilter(path="Value1", equals="quick fox", data_type="DataObject")
    assert references((await search_index.search("", filters=[as_text])).data) == {"ref3"}


async def test_equality_includes_the_type(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    assert (await search_index.search("", filters=[DataFilter(path="Value3", equals="7")])).total == 0


async def test_a_term_with_punctuation_matches_consecutive_words(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(
        instance("p1", 2020, WorkflowStatus.RUNNABLE, {"job": "nightly etl-pipeline"})
    )
    await search_index.index_workflow(
        instance("p2", 2020, WorkflowStatus.RUNNABLE, {"job": "pipeline for etl"})
    )
    assert references((await search_index.search("ETL-Pipeline")).data) == {"p1"}
    assert references((await search_index.search("etl pipeline")).data) == {"p1", "p2"}


async def test_data_filters_on_presence_and_null(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(
        instance("n1", 2020, WorkflowStatus.RUNNABLE, {"note": None, "a": {"b": 1}})
    )
    await search_index.index_workflow(instance("n2", 2020, WorkflowStatus.RUNNABLE, {"note": "x"}))
    assert references((await search_index.search("", filters=[DataFilter(path="note")])).data) == {"n1", "n2"}
    assert references((await search_index.search("", filters=[DataFilter(path="a")])).data) == {"n1"}
    is_null = DataFilter(path="note", equals=None)
    assert references((await search_index.search("", filters=[is_null])).data) == {"n1"}


async def test_filter_on_reference(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search("", filters=[ReferenceFilter(reference="ref2")])
    assert references(page.data) == {"ref2"}


async def test_filter_on_status(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search("", filters=[StatusFilter(status=WorkflowStatus.RUNNABLE)])
    assert page.data
    assert all(result.status is WorkflowStatus.RUNNABLE for result in page.data)


async def test_filter_on_date_range(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    after, before = datetime(2000, 1, 1, tzinfo=UTC), datetime(2015, 1, 1, tzinfo=UTC)
    page = await search_index.search(
        "", filters=[DateRangeFilter(field="create_time", after=after, before=before)]
    )
    assert page.data
    assert all(after <= result.create_time < before for result in page.data)
    completed = await search_index.search("", filters=[DateRangeFilter(field="complete_time")])
    assert references(completed.data) == {"ref3", "ref4"}


async def test_filter_on_definition(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    other = instance("other", 2021, WorkflowStatus.RUNNABLE, {"Value3": "x"}, definition="other-flow")
    await search_index.index_workflow(other)
    page = await search_index.search("", filters=[DefinitionFilter(definition_id="other-flow", version=1)])
    assert references(page.data) == {"other"}
    by_type = DataFilter(path="Value3", equals="x", data_type="other-flow")
    assert references((await search_index.search("", filters=[by_type])).data) == {"other"}


async def test_no_terms_return_newest_first(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search("")
    assert page.total == 4
    assert page.data[0].reference == "ref2"


async def test_results_carry_the_instance(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    [result] = (await search_index.search("ref4")).data
    original = population["ref4"]
    assert result.id == original.id
    assert result.status is WorkflowStatus.COMPLETE
    assert result.data == {"Value1": 9, "Value2": "2000-01-01T00:00:00Z"}
    assert result.data_type == "AltDataObject"
    assert result.create_time == original.create_time
    assert result.complete_time == original.complete_time


async def test_search_with_no_results(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance]
) -> None:
    page = await search_index.search("nothing-matches-this")
    assert page.data == []
    assert page.total == 0


async def test_paging(search_index: OpenSearchIndex) -> None:
    for year in range(2001, 2006):
        await search_index.index_workflow(instance(f"page{year}", year, WorkflowStatus.RUNNABLE))
    page = await search_index.search("", skip=2, take=2)
    assert page.total == 5
    assert [result.reference for result in page.data] == ["page2003", "page2002"]


async def test_reference_match_ranks_first(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(instance("x1", 2020, WorkflowStatus.RUNNABLE, {"note": "invoice"}))
    await search_index.index_workflow(instance("invoice", 2010, WorkflowStatus.RUNNABLE))
    page = await search_index.search("invoice")
    assert [result.reference for result in page.data] == ["invoice", "x1"]


async def test_indexing_again_replaces_the_document(search_index: OpenSearchIndex) -> None:
    item = instance("again", 2020, WorkflowStatus.RUNNABLE)
    await search_index.index_workflow(item)
    item.status = WorkflowStatus.COMPLETE
    await search_index.index_workflow(item)
    page = await search_index.search("again")
    assert page.total == 1
    assert page.data[0].status is WorkflowStatus.COMPLETE


@pytest.mark.parametrize(
    "terms", ['"ref1" OR *', "*", "status:Runnable", '{"script": "1"}', "\\", "<script>"]
)
async def test_query_syntax_in_terms_is_plain_text(
    search_index: OpenSearchIndex, population: dict[str, WorkflowInstance], terms: str
) -> None:
    page = await search_index.search(terms)
    assert page.total == 0


async def test_start_is_idempotent(search_index: OpenSearchIndex) -> None:
    await search_index.start()
    mapping = await search_index.client.indices.get_mapping(index=search_index.alias)
    assert list(mapping) == [search_index.concrete_index]


async def test_unknown_index_is_a_search_error() -> None:
    provider = OpenSearchIndex.from_url(opensearch_url(), index=f"wfe-missing-{new_id()}")
    try:
        with pytest.raises(SearchError, match="start the provider first"):
            await provider.search("")
    finally:
        await provider.stop()
