"""Documents built from instances: fields, typed data, text and step summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wfe_core.errors import SearchError
from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowStatus
from wfe_opensearch import MAPPING, build_document, data_type_of

from .samples import MakeInstance, OrderData


def test_instance_fields_are_copied(make_instance: MakeInstance) -> None:
    instance = make_instance(
        id="wf-1",
        version=3,
        description="Ship parcel",
        reference="ORD-42",
        status=WorkflowStatus.COMPLETE,
        complete_time=datetime(2020, 5, 2, tzinfo=UTC),
        next_execution=None,
    )
    document = build_document(instance)
    assert document["id"] == "wf-1"
    assert document["workflow_definition_id"] == "order-flow"
    assert document["version"] == 3
    assert document["description"] == "Ship parcel"
    assert document["reference"] == "ORD-42"
    assert document["status"] == "Complete"
    assert document["create_time"] == "2020-05-01T12:00:00+00:00"
    assert document["complete_time"] == "2020-05-02T00:00:00+00:00"
    assert document["next_execution"] is None


def test_times_are_utc_and_naive_times_are_taken_as_utc(make_instance: MakeInstance) -> None:
    plus_two = timezone(timedelta(hours=2))
    instance = make_instance(
        create_time=datetime(2020, 5, 1, 14, 0, 0, 123456, tzinfo=plus_two),
        next_execution=datetime(2021, 1, 1, 8, 30),
    )
    document = build_document(instance)
    assert document["create_time"] == "2020-05-01T12:00:00.123456+00:00"
    assert document["next_execution"] == "2021-01-01T08:30:00+00:00"


def test_model_data_is_typed_by_class_name(make_instance: MakeInstance) -> None:
    data = OrderData(
        order_id=7, customer="Ada", placed=datetime(2000, 1, 1, tzinfo=UTC), express=True, tags=["a", "b"]
    )
    instance = make_instance(data=data)
    document = build_document(instance)
    assert data_type_of(instance) == "OrderData"
    assert document["data_type"] == "OrderData"
    assert document["data"] == {
        "order_id": 7,
        "customer": "Ada",
        "placed": "2000-01-01T00:00:00Z",
        "express": True,
        "tags": ["a", "b"],
    }
    assert document["data_num"] == {"order_id": 7}
    assert document["data_bool"] == {"express": True}
    assert document["data_str"] == {"customer": "Ada", "placed": "2000-01-01T00:00:00Z", "tags": ["a", "b"]}
    assert document["data_date"] == {"placed": "2000-01-01T00:00:00+00:00"}
    assert document["data_text"] == ["Ada", "2000-01-01T00:00:00Z", "a", "b"]


def test_dict_data_is_typed_by_definition_id(make_instance: MakeInstance) -> None:
    instance = make_instance(
        workflow_definition_id="invoice",
        data={"customer": {"id": 12, "name": "Bob"}, "total": 9.5, "due": "2024-02-29", "note": None},
    )
    document = build_document(instance)
    assert document["data_type"] == "invoice"
    assert document["data_num"] == {"customer/id": 12, "total": 9.5}
    assert document["data_str"] == {"customer/name": "Bob", "due": "2024-02-29"}
    assert document["data_date"] == {"due": "2024-02-29T00:00:00+00:00"}
    assert document["data_bool"] == {}
    assert document["data_text"] == ["Bob", "2024-02-29"]


def test_model_and_equivalent_dict_give_the_same_data_fields(make_instance: MakeInstance) -> None:
    model = OrderData(order_id=1, customer="Ada", placed=datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC))
    from_model = build_document(make_instance(data=model))
    from_dict = build_document(make_instance(data=model.model_dump(mode="json")))
    for field in ("data", "data_num", "data_str", "data_date", "data_bool", "data_text"):
        assert from_model[field] == from_dict[field], field


def test_arrays_of_objects_index_every_element_under_one_path(make_instance: MakeInstance) -> None:
    data = {"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 5}]}
    document = build_document(make_instance(data=data))
    assert document["data_str"] == {"items/sku": ["A-1", "B-2"]}
    assert document["data_num"] == {"items/qty": [2, 5]}


def test_path_segments_are_escaped_so_no_field_name_has_a_dot(make_instance: MakeInstance) -> None:
    data = {"a.b": 1, "c/d": 2, "e~f": 3, "": 4, " ": 5, "g": {"": 6}}
    document = build_document(make_instance(data=data))
    assert document["data_num"] == {"a~2b": 1, "c~1d": 2, "e~0f": 3}
    assert all("." not in name for name in document["data_num"])


def test_same_name_different_types_land_in_different_objects(make_instance: MakeInstance) -> None:
    as_number = build_document(make_instance(data={"value": 7}))
    as_text = build_document(make_instance(data={"value": "7"}))
    as_object = build_document(make_instance(data={"value": {"inner": True}}))
    assert as_number["data_num"] == {"value": 7} and as_number["data_str"] == {}
    assert as_text["data_str"] == {"value": "7"} and as_text["data_num"] == {}
    assert as_object["data_bool"] == {"value/inner": True}


def test_scalar_and_missing_data(make_instance: MakeInstance) -> None:
    scalar = build_document(make_instance(data="just text"))
    assert scalar["data"] == "just text"
    assert scalar["data_text"] == ["just text"]
    assert scalar["data_str"] == {}
    empty = build_document(make_instance(data=None))
    assert empty["data"] is None
    assert empty["data_type"] == "order-flow"
    assert empty["data_text"] == []


def test_non_finite_numbers_become_null(make_instance: MakeInstance) -> None:
    document = build_document(make_instance(data={"x": float("nan"), "y": float("inf"), "z": 1.5}))
    assert document["data"] == {"x": None, "y": None, "z": 1.5}
    assert document["data_num"] == {"z": 1.5}
    assert document["data_null"] == ["x", "y"]


def test_strings_that_only_resemble_dates_are_not_dates(make_instance: MakeInstance) -> None:
    data = {"a": "2024-13-45", "b": "2024-01-01 is the day", "c": "20240101", "d": "2024-01-01T10:00Z"}
    document = build_document(make_instance(data=data))
    assert document["data_date"] == {"d": "2024-01-01T10:00:00+00:00"}


def test_step_summaries_come_from_pointer_statuses(make_instance: MakeInstance) -> None:
    pointers = [
        ExecutionPointer(step_id=0, step_name="Start", status=PointerStatus.COMPLETE),
        ExecutionPointer(step_id=1, step_name="Wait", status=PointerStatus.WAITING_FOR_EVENT),
        ExecutionPointer(step_id=2, status=PointerStatus.SLEEPING),
        ExecutionPointer(step_id=3, step_name="Charge", status=PointerStatus.FAILED),
    ]
    document = build_document(make_instance(execution_pointers=pointers))
    assert document["waiting_steps"] == [{"step_id": 1, "name": "Wait"}]
    assert document["sleeping_steps"] == [{"step_id": 2, "name": None}]
    assert document["failed_steps"] == [{"step_id": 3, "name": "Charge"}]


def test_document_has_only_mapped_top_level_fields(make_instance: MakeInstance) -> None:
    document = build_document(make_instance(data={"k": "v"}))
    assert set(document) == set(MAPPING["properties"])


def test_data_that_is_not_json_able_raises_search_error(make_instance: MakeInstance) -> None:
    class Opaque:
        pass

    with pytest.raises(SearchError, match="cannot be converted to JSON"):
        build_document(make_instance(data={"thing": Opaque()}))


def test_paths_present_and_paths_holding_null_are_listed(make_instance: MakeInstance) -> None:
    data = {"customer": {"id": 1, "tags": ["a", "b"], "note": None}, "items": [{"sku": "x"}, {"sku": None}]}
    document = build_document(make_instance(data=data))
    assert document["data_paths"] == [
        "customer",
        "customer/id",
        "customer/tags",
        "customer/note",
        "items",
        "items/sku",
    ]
    assert document["data_null"] == ["customer/note", "items/sku"]
