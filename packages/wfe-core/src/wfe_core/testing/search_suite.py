"""SearchSuite: the conformance tests every ``SearchIndex`` runs against itself.

The data set and the first tests follow workflow-core's ``SearchIndexTests``; the rest pin paging, the other
filters, relevance, step summaries and terms that look like query syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    ExecutionPointer,
    Page,
    PointerStatus,
    ReferenceFilter,
    SearchFilter,
    StatusFilter,
    StepSummary,
    WorkflowInstance,
    WorkflowSearchResult,
    WorkflowStatus,
    new_id,
)
from wfe_core.protocols import SearchIndex


class DataObject(BaseModel):
    """Data of the suite's sample definition."""

    value1: str = ""
    value2: str = ""
    value3: int = 0


class AltDataObject(BaseModel):
    """Data whose field names clash with ``DataObject``'s, with other types."""

    value1: int = 0
    value2: datetime | None = None


SAMPLE_DEFINITION = "search-sample"
ALT_DEFINITION = "search-alt"


def _at(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


class SearchSuite:
    """Conformance tests for a ``SearchIndex``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``search_index`` that
    yields a started index holding no documents that other tests see (its own index name), and stops (and
    deletes) it afterwards. When indexed documents need an extra step before they are searchable (an
    OpenSearch refresh), override ``after_indexing``.

    Example::

        class TestMyIndex(SearchSuite):
            @pytest.fixture
            async def search_index(self):
                index = MyIndex(url, index_name=unique_name())
                await index.start()
                yield index
                await index.stop()
    """

    pytestmark = pytest.mark.asyncio

    async def after_indexing(self, search_index: SearchIndex) -> None:
        """Make what was indexed searchable; nothing to do for indexes that are consistent on write."""

    # -- data set ----------------------------------------------------------------------------------------

    async def index(self, search_index: SearchIndex, *instances: WorkflowInstance) -> None:
        for instance in instances:
            await search_index.index_workflow(instance)
        await self.after_indexing(search_index)

    async def sample(self, search_index: SearchIndex) -> dict[str, WorkflowInstance]:
        """Index the four instances of workflow-core's search suite; returns them by label "1".."4"."""
        instances = {
            "1": WorkflowInstance(
                id=new_id(),
                workflow_definition_id=SAMPLE_DEFINITION,
                version=1,
                description="first sample",
                reference="ref1",
                status=WorkflowStatus.RUNNABLE,
                create_time=_at(2010, 1, 1),
            ),
            "2": WorkflowInstance(
                id=new_id(),
                workflow_definition_id=SAMPLE_DEFINITION,
                version=2,
                reference="ref2",
                status=WorkflowStatus.RUNNABLE,
                data=DataObject(value3=7),
                create_time=_at(2020, 1, 1),
                execution_pointers=[
                    ExecutionPointer(
                        step_id=0, step_name="Start", status=PointerStatus.COMPLETE, active=False
                    ),
                    ExecutionPointer(step_id=1, step_name="Approve", status=PointerStatus.WAITING_FOR_EVENT),
                    ExecutionPointer(step_id=2, step_name="Wait", status=PointerStatus.SLEEPING),
                ],
            ),
            "3": WorkflowInstance(
                id=new_id(),
                workflow_definition_id=SAMPLE_DEFINITION,
                version=1,
                reference="ref3",
                status=WorkflowStatus.COMPLETE,
                data=DataObject(value1="quick fox", value2="lazy dog", value3=5),
                create_time=_at(2010, 2, 1),
                complete_time=_at(2011, 1, 1),
            ),
            "4": WorkflowInstance(
                id=new_id(),
                workflow_definition_id=ALT_DEFINITION,
                version=1,
                reference="ref4",
                status=WorkflowStatus.COMPLETE,
                data=AltDataObject(value1=9, value2=_at(2000, 1, 1)),
                create_time=_at(2010, 3, 1),
                complete_time=_at(2012, 1, 1),
                execution_pointers=[
                    ExecutionPointer(step_id=3, step_name="Charge", status=PointerStatus.FAILED, active=False)
                ],
            ),
        }
        await self.index(search_index, *instances.values())
        return instances

    @staticmethod
    def labels(page: Page[WorkflowSearchResult], instances: dict[str, WorkflowInstance]) -> list[str]:
        by_id = {instance.id: label for label, instance in instances.items()}
        return [by_id.get(result.id, result.id) for result in page.data]

    async def found(
        self,
        search_index: SearchIndex,
        instances: dict[str, WorkflowInstance],
        terms: str = "",
        filters: Sequence[SearchFilter] = (),
        **paging: Any,
    ) -> list[str]:
        return self.labels(await search_index.search(terms, filters=filters, **paging), instances)

    # -- workflow-core's suite ---------------------------------------------------------------------------

    async def test_search_on_reference(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        assert await self.found(search_index, instances, "ref1") == ["1"]
        assert await self.found(search_index, instances, "ref2") == ["2"]

    async def test_search_on_custom_data(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        assert await self.found(search_index, instances, "dog fox") == ["3"]

    async def test_filter_on_custom_data(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        value3_is_7 = DataFilter(path="value3", equals=7, data_type="DataObject")
        assert await self.found(search_index, instances, filters=[value3_is_7]) == ["2"]

    async def test_conflicting_field_names_across_data_types(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        alt_value1 = DataFilter(path="value1", equals=9, data_type="AltDataObject")
        assert await self.found(search_index, instances, filters=[alt_value1]) == ["4"]
        sample_value1 = DataFilter(path="value1", equals=9, data_type="DataObject")
        assert await self.found(search_index, instances, filters=[sample_value1]) == []
        between = DataFilter(
            path="value2", gt=_at(1999, 12, 31), lt=_at(2000, 1, 2), data_type="AltDataObject"
        )
        assert await self.found(search_index, instances, filters=[between]) == ["4"]

    async def test_filter_on_reference(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        assert await self.found(search_index, instances, filters=[ReferenceFilter(reference="ref2")]) == ["2"]
        assert await self.found(search_index, instances, filters=[ReferenceFilter(reference="ref")]) == []

    async def test_filter_on_status(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        runnable = await self.found(
            search_index, instances, filters=[StatusFilter(status=WorkflowStatus.RUNNABLE)]
        )
        assert sorted(runnable) == ["1", "2"]
        complete = await self.found(
            search_index, instances, filters=[StatusFilter(status=WorkflowStatus.COMPLETE)]
        )
        assert sorted(complete) == ["3", "4"]

    async def test_filter_on_create_time_range(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        early = DateRangeFilter(field="create_time", after=_at(2000), before=_at(2015))
        assert sorted(await self.found(search_index, instances, filters=[early])) == ["1", "3", "4"]
        late = DateRangeFilter(field="create_time", after=_at(2015))
        assert await self.found(search_index, instances, filters=[late]) == ["2"]
        exclusive_before = DateRangeFilter(field="create_time", before=_at(2010, 1, 1))
        assert await self.found(search_index, instances, filters=[exclusive_before]) == []
        inclusive_after = DateRangeFilter(field="create_time", after=_at(2020, 1, 1))
        assert await self.found(search_index, instances, filters=[inclusive_after]) == ["2"]

    # -- beyond workflow-core ------------------------------------------------------------------------------

    async def test_filter_on_complete_time_range(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        after = DateRangeFilter(field="complete_time", after=_at(2011, 6, 1))
        assert await self.found(search_index, instances, filters=[after]) == ["4"]
        before = DateRangeFilter(field="complete_time", before=_at(2011, 6, 1))
        assert await self.found(search_index, instances, filters=[before]) == ["3"]

    async def test_filter_on_definition_and_version(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        alt = DefinitionFilter(definition_id=ALT_DEFINITION)
        assert await self.found(search_index, instances, filters=[alt]) == ["4"]
        sample = DefinitionFilter(definition_id=SAMPLE_DEFINITION)
        assert sorted(await self.found(search_index, instances, filters=[sample])) == ["1", "2", "3"]
        version_2 = DefinitionFilter(definition_id=SAMPLE_DEFINITION, version=2)
        assert await self.found(search_index, instances, filters=[version_2]) == ["2"]

    async def test_filters_combine_with_and(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        filters: list[SearchFilter] = [
            StatusFilter(status=WorkflowStatus.COMPLETE),
            DefinitionFilter(definition_id=SAMPLE_DEFINITION),
        ]
        assert await self.found(search_index, instances, filters=filters) == ["3"]
        assert await self.found(search_index, instances, "ref1", filters=filters) == []

    async def test_data_equality_is_type_exact(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        as_string = DataFilter(path="value3", equals="7", data_type="DataObject")
        assert await self.found(search_index, instances, filters=[as_string]) == []
        text = DataFilter(path="value1", equals="quick fox", data_type="DataObject")
        assert await self.found(search_index, instances, filters=[text]) == ["3"]

    async def test_data_ranges_on_numbers_and_strings(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        above_5 = DataFilter(path="value3", gt=5, data_type="DataObject")
        assert await self.found(search_index, instances, filters=[above_5]) == ["2"]
        from_5 = DataFilter(path="value3", gte=5, lte=7, data_type="DataObject")
        assert sorted(await self.found(search_index, instances, filters=[from_5])) == ["2", "3"]
        from_q = DataFilter(path="value1", gte="q", lt="r", data_type="DataObject")
        assert await self.found(search_index, instances, filters=[from_q]) == ["3"]

    async def test_data_filter_follows_dotted_paths_on_dict_data(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        definition_id = f"search-dict-{new_id()[-8:]}"
        order = WorkflowInstance(
            id=new_id(),
            workflow_definition_id=definition_id,
            version=1,
            data={"customer": {"id": 42, "name": "Ada Lovelace"}, "total": 12.5},
            create_time=_at(2015),
        )
        await self.index(search_index, order)
        instances["order"] = order
        by_id = DataFilter(path="customer.id", equals=42)
        assert await self.found(search_index, instances, filters=[by_id]) == ["order"]
        typed = DataFilter(path="customer.id", equals=42, data_type=definition_id)
        assert await self.found(search_index, instances, filters=[typed]) == ["order"]
        missing = DataFilter(path="customer.address.city", equals="London")
        assert await self.found(search_index, instances, filters=[missing]) == []
        assert await self.found(search_index, instances, "lovelace") == ["order"]

    async def test_terms_match_whole_words_of_description_and_definition_case_insensitively(
        self, search_index: SearchIndex
    ) -> None:
        instances = await self.sample(search_index)
        assert await self.found(search_index, instances, "FIRST Sample") == ["1"]
        assert await self.found(search_index, instances, ALT_DEFINITION) == ["4"]
        assert await self.found(search_index, instances, "ref") == []
        assert await self.found(search_index, instances, "QUICK") == ["3"]
        assert await self.found(search_index, instances, "quick cat") == []

    async def test_empty_terms_match_everything_newest_first_with_paging(
        self, search_index: SearchIndex
    ) -> None:
        instances = await self.sample(search_index)
        everything = await search_index.search("")
        assert self.labels(everything, instances) == ["2", "4", "3", "1"]
        assert everything.total == 4
        page = await search_index.search("", skip=1, take=2)
        assert self.labels(page, instances) == ["4", "3"]
        assert page.total == 4
        beyond = await search_index.search("", skip=10, take=2)
        assert beyond.data == [] and beyond.total == 4

    async def test_a_reference_match_ranks_first(self, search_index: SearchIndex) -> None:
        by_reference = WorkflowInstance(
            id=new_id(), workflow_definition_id="rank", version=1, reference="zephyr", create_time=_at(2001)
        )
        by_description = WorkflowInstance(
            id=new_id(),
            workflow_definition_id="rank",
            version=1,
            description="about zephyr",
            create_time=_at(2024),
        )
        await self.index(search_index, by_description, by_reference)
        page = await search_index.search("zephyr")
        assert [result.id for result in page.data] == [by_reference.id, by_description.id]

    async def test_results_carry_fields_data_and_step_summaries(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        second = (await search_index.search("ref2")).data[0]
        source = instances["2"]
        assert (second.id, second.workflow_definition_id, second.version) == (source.id, SAMPLE_DEFINITION, 2)
        assert (second.reference, second.status, second.create_time) == (
            "ref2",
            WorkflowStatus.RUNNABLE,
            _at(2020),
        )
        assert second.data == DataObject(value3=7).model_dump(mode="json")
        assert second.data_type == "DataObject"
        assert second.waiting_steps == [StepSummary(step_id=1, name="Approve")]
        assert second.sleeping_steps == [StepSummary(step_id=2, name="Wait")]
        assert second.failed_steps == []
        fourth = (await search_index.search("ref4")).data[0]
        assert fourth.failed_steps == [StepSummary(step_id=3, name="Charge")]
        assert fourth.complete_time == _at(2012)
        first = (await search_index.search("ref1")).data[0]
        assert first.description == "first sample"
        assert first.data_type == SAMPLE_DEFINITION

    async def test_indexing_again_replaces_the_document(self, search_index: SearchIndex) -> None:
        instances = await self.sample(search_index)
        updated = instances["1"].model_copy(deep=True)
        updated.status = WorkflowStatus.TERMINATED
        updated.reference = "ref1-renamed"
        await self.index(search_index, updated)
        await self.index(search_index, updated)
        assert (await search_index.search("")).total == 4
        terminated = await self.found(
            search_index, instances, filters=[StatusFilter(status=WorkflowStatus.TERMINATED)]
        )
        assert terminated == ["1"]
        assert await self.found(search_index, instances, filters=[ReferenceFilter(reference="ref1")]) == []

    @pytest.mark.parametrize(
        "terms",
        [
            "*",
            "ref1 OR ref2",
            "reference:ref1",
            "status:Complete",
            '{"script": {"source": "ctx._source.x = 1"}}',
            "dog AND NOT fox",
            "ref?",
            "(ref1)|(ref2)",
        ],
    )
    async def test_query_syntax_in_terms_finds_nothing(self, search_index: SearchIndex, terms: str) -> None:
        instances = await self.sample(search_index)
        page = await search_index.search(terms)
        assert page.data == [] and page.total == 0, self.labels(page, instances)

    @pytest.mark.parametrize("terms", ['"ref1"', "ref1\\", "\\ref1", "'ref1'"])
    async def test_quotes_and_backslashes_are_plain_text(self, search_index: SearchIndex, terms: str) -> None:
        instances = await self.sample(search_index)
        assert await self.found(search_index, instances, terms) in ([], ["1"])
