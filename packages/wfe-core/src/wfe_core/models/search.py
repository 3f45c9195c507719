"""Search filters and results shared by every search index."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from wfe_core.models.instance import WorkflowInstance, to_jsonable
from wfe_core.models.status import PointerStatus, WorkflowStatus

T = TypeVar("T")


class StatusFilter(BaseModel):
    """Only instances with this status."""

    kind: Literal["status"] = "status"
    status: WorkflowStatus


class ReferenceFilter(BaseModel):
    """Only instances whose reference equals ``reference`` exactly."""

    kind: Literal["reference"] = "reference"
    reference: str


class DefinitionFilter(BaseModel):
    """Only instances of this definition id (and version, when given)."""

    kind: Literal["definition"] = "definition"
    definition_id: str
    version: int | None = None


class DateRangeFilter(BaseModel):
    """``after <= field < before`` on create or complete time; either bound may be open."""

    kind: Literal["date_range"] = "date_range"
    field: Literal["create_time", "complete_time"]
    after: datetime | None = None
    before: datetime | None = None


class DataFilter(BaseModel):
    """Equality or range on a field of the instance data.

    ``path`` is dotted (``"customer.id"``). ``equals`` matches the value exactly (type included: 7 does not
    match "7"); ``gt``/``gte``/``lt``/``lte`` bound numbers, strings or datetimes. ``data_type`` narrows the
    filter to data of one type (the pydantic model's class name, or the definition id for dict data), so fields
    with the same name but different types on different definitions never clash.
    """

    kind: Literal["data"] = "data"
    path: str
    equals: Any = None
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    data_type: str | None = None


SearchFilter = StatusFilter | ReferenceFilter | DefinitionFilter | DateRangeFilter | DataFilter


class StepSummary(BaseModel):
    step_id: int
    name: str | None = None


class WorkflowSearchResult(BaseModel):
    """What a search returns for one instance (``from_instance`` builds it the same way for every index)."""

    id: str
    workflow_definition_id: str
    version: int
    description: str | None = None
    reference: str | None = None
    status: WorkflowStatus
    data: Any = None
    data_type: str | None = None
    create_time: datetime
    complete_time: datetime | None = None
    next_execution: datetime | None = None
    waiting_steps: list[StepSummary] = Field(default_factory=list)
    sleeping_steps: list[StepSummary] = Field(default_factory=list)
    failed_steps: list[StepSummary] = Field(default_factory=list)

    @classmethod
    def from_instance(cls, instance: WorkflowInstance) -> WorkflowSearchResult:
        """The result for ``instance``: its data as JSON, its data type, and its waiting, sleeping and failed
        steps."""

        def steps(status: PointerStatus) -> list[StepSummary]:
            return [
                StepSummary(step_id=p.step_id, name=p.step_name)
                for p in instance.execution_pointers
                if p.status == status
            ]

        return cls(
            id=instance.id,
            workflow_definition_id=instance.workflow_definition_id,
            version=instance.version,
            description=instance.description,
            reference=instance.reference,
            status=instance.status,
            data=to_jsonable(instance.data),
            data_type=data_type_name(instance),
            create_time=instance.create_time,
            complete_time=instance.complete_time,
            next_execution=instance.next_execution,
            waiting_steps=steps(PointerStatus.WAITING_FOR_EVENT),
            sleeping_steps=steps(PointerStatus.SLEEPING),
            failed_steps=steps(PointerStatus.FAILED),
        )


def data_type_name(instance: WorkflowInstance) -> str:
    """What ``DataFilter.data_type`` matches: the pydantic class name of model data, else the definition id."""
    if isinstance(instance.data, BaseModel):
        return type(instance.data).__name__
    return instance.workflow_definition_id


_WORD = re.compile(r"\w+")


def search_words(text: str) -> list[str]:
    """The words of ``text`` as every search index matches them: runs of word characters, case-folded. A
    term matches a text when its words occur consecutively in the text's words."""
    return _WORD.findall(text.lower())


def search_terms(terms: str) -> list[str]:
    """The terms of a search: whitespace-separated, each one data (never query syntax); every term must
    match."""
    return terms.split()


def data_strings(data: Any) -> list[str]:
    """Every string in JSON ``data`` (values, not keys), in document order: the searchable text of the data."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [text for item in data.values() for text in data_strings(item)]
    if isinstance(data, list | tuple):
        return [text for item in data for text in data_strings(item)]
    return []


def searchable_texts(instance: WorkflowInstance, data: Any) -> list[str]:
    """The texts a search term can match, reference first: the reference, the description, the definition
    id and the strings of ``data`` (the instance's data as JSON)."""
    return [
        instance.reference or "",
        instance.description or "",
        instance.workflow_definition_id,
        *data_strings(data),
    ]


def raw_tokens(texts: list[str]) -> set[str]:
    """The whitespace-separated tokens of ``texts``, case-folded: what a term with no word characters at all
    (``*``) must equal to match."""
    return {token for text in texts for token in text.lower().split()}


class Page(BaseModel, Generic[T]):
    """One page of results and the total number of matches."""

    data: list[T]
    total: int
