"""The provider against a real OpenSearch server (``WFE_TEST_OPENSEARCH_URL``).

The shared ``SearchSuite`` runs first, then what only this provider has (mapping, index lifecycle, null and
presence filters). Each test gets its own index, deleted afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from wfe_core.errors import SearchError
from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    WorkflowInstance,
    WorkflowSearchResult,
    WorkflowStatus,
    new_id,
)
from wfe_core.protocols import SearchIndex
from wfe_core.testing import SearchSuite
from wfe_core.testing.services import service_url
from wfe_opensearch import OpenSearchIndex

pytestmark = pytest.mark.opensearch


def opensearch_url() -> str:
    return service_url(
        "WFE_TEST_OPENSEARCH_URL", why="OpenSearch cannot run on this machine", required_in_ci=False
    )


async def fresh_index(**options: Any) -> OpenSearchIndex:
    provider = OpenSearchIndex.from_url(opensearch_url(), index=f"wfe-test-{new_id()}", **options)
    await provider.start()
    return provider


async def drop(provider: OpenSearchIndex) -> None:
    await provider.client.indices.delete(index=provider.concrete_index, ignore_unavailable=True)
    await provider.stop()


class TestOpenSearchSearchSuite(SearchSuite):
    @pytest.fixture
    async def search_index(self) -> AsyncIterator[OpenSearchIndex]:
        provider = await fresh_index()
        try:
            yield provider
        finally:
            await drop(provider)

    async def after_indexing(self, search_index: SearchIndex) -> None:
        assert isinstance(search_index, OpenSearchIndex)
        await search_index.refresh()


@pytest.fixture
async def search_index() -> AsyncIterator[OpenSearchIndex]:
    # refresh=True: every write is searchable at once, so these tests need no explicit refresh.
    provider = await fresh_index(refresh=True)
    try:
        yield provider
    finally:
        await drop(provider)


def instance(
    key: str, data: object = None, status: WorkflowStatus = WorkflowStatus.RUNNABLE
) -> WorkflowInstance:
    return WorkflowInstance(
        id=f"{key}-{new_id()}",
        workflow_definition_id="server-test",
        version=1,
        reference=key,
        status=status,
        data=data,
        create_time=datetime(2020, 6, 1, tzinfo=UTC),
        complete_time=datetime(2020, 6, 2, tzinfo=UTC) if status is WorkflowStatus.COMPLETE else None,
    )


def references(results: Sequence[WorkflowSearchResult]) -> set[str | None]:
    return {result.reference for result in results}


async def test_start_creates_the_versioned_index_behind_the_alias_once(search_index: OpenSearchIndex) -> None:
    await search_index.start()
    aliases = await search_index.client.indices.get_alias(name=search_index.alias)
    assert list(aliases) == [search_index.concrete_index]


async def test_data_fields_are_mapped_by_value_type(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(
        instance("m1", {"value": 7, "when": "2024-01-01T00:00:00Z", "ok": True})
    )
    await search_index.index_workflow(instance("m2", {"value": "seven", "value.x": {"deep": 1}}))
    mapping = await search_index.client.indices.get_mapping(index=search_index.alias)
    properties = mapping[search_index.concrete_index]["mappings"]["properties"]
    assert properties["data_num"]["properties"]["value"]["type"] == "double"
    assert properties["data_str"]["properties"]["value"]["type"] == "keyword"
    assert properties["data_date"]["properties"]["when"]["type"] == "date"
    assert properties["data_bool"]["properties"]["ok"]["type"] == "boolean"
    assert properties["data_num"]["properties"]["value~2x/deep"]["type"] == "double"


async def test_every_term_must_match_but_each_in_any_field(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(instance("alpha", {"note": "quick fox"}))
    await search_index.index_workflow(instance("beta", {"note": "quick dog"}))
    assert references((await search_index.search("ALPHA fox")).data) == {"alpha"}
    assert references((await search_index.search("quick")).data) == {"alpha", "beta"}
    assert (await search_index.search("beta fox")).total == 0


async def test_a_term_with_punctuation_matches_consecutive_words(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(instance("p1", {"job": "nightly etl-pipeline"}))
    await search_index.index_workflow(instance("p2", {"job": "pipeline for etl"}))
    assert references((await search_index.search("ETL-Pipeline")).data) == {"p1"}
    assert references((await search_index.search("etl pipeline")).data) == {"p1", "p2"}


async def test_data_filters_on_presence_and_null(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(instance("n1", {"note": None, "a": {"b": 1}}))
    await search_index.index_workflow(instance("n2", {"note": "x"}))
    assert references((await search_index.search("", filters=[DataFilter(path="note")])).data) == {"n1", "n2"}
    assert references((await search_index.search("", filters=[DataFilter(path="a")])).data) == {"n1"}
    is_null = DataFilter(path="note", equals=None)
    assert references((await search_index.search("", filters=[is_null])).data) == {"n1"}


async def test_open_date_range_means_the_time_is_set(search_index: OpenSearchIndex) -> None:
    await search_index.index_workflow(instance("done", status=WorkflowStatus.COMPLETE))
    await search_index.index_workflow(instance("running"))
    completed = await search_index.search("", filters=[DateRangeFilter(field="complete_time")])
    assert references(completed.data) == {"done"}


async def test_times_keep_microseconds_in_results(search_index: OpenSearchIndex) -> None:
    item = instance("micro")
    item.create_time = datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    await search_index.index_workflow(item)
    [result] = (await search_index.search("micro")).data
    assert result.create_time == item.create_time


async def test_search_on_a_missing_index_is_a_search_error() -> None:
    provider = OpenSearchIndex.from_url(opensearch_url(), index=f"wfe-missing-{new_id()}")
    try:
        with pytest.raises(SearchError, match="start the provider first"):
            await provider.search("")
    finally:
        await provider.stop()
