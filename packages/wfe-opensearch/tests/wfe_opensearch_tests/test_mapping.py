"""The index mapping: field types, typed data objects and their dynamic templates."""

from __future__ import annotations

from wfe_opensearch import MAPPING, MAPPING_VERSION, SETTINGS


def test_identity_and_filter_fields_are_keywords() -> None:
    properties = MAPPING["properties"]
    for field in (
        "id",
        "workflow_definition_id",
        "reference",
        "status",
        "data_type",
        "data_paths",
        "data_null",
    ):
        assert properties[field]["type"] == "keyword", field
    assert properties["version"] == {"type": "integer"}


def test_term_fields_are_analysed_text() -> None:
    properties = MAPPING["properties"]
    assert properties["description"] == {"type": "text"}
    assert properties["data_text"] == {"type": "text"}
    assert properties["reference"]["fields"] == {"text": {"type": "text"}}
    assert properties["workflow_definition_id"]["fields"] == {"text": {"type": "text"}}


def test_times_are_dates() -> None:
    properties = MAPPING["properties"]
    for field in ("create_time", "complete_time", "next_execution"):
        assert properties[field] == {"type": "date"}


def test_original_data_is_kept_but_not_indexed() -> None:
    assert MAPPING["properties"]["data"] == {"type": "object", "enabled": False}
    for steps in ("waiting_steps", "sleeping_steps", "failed_steps"):
        assert MAPPING["properties"][steps] == {"type": "object", "enabled": False}


def test_each_typed_data_object_has_a_dynamic_template_of_its_type() -> None:
    templates = {name: body for template in MAPPING["dynamic_templates"] for name, body in template.items()}
    assert templates == {
        "data_num": {"path_match": "data_num.*", "mapping": {"type": "double"}},
        "data_str": {"path_match": "data_str.*", "mapping": {"type": "keyword", "ignore_above": 8191}},
        "data_date": {"path_match": "data_date.*", "mapping": {"type": "date"}},
        "data_bool": {"path_match": "data_bool.*", "mapping": {"type": "boolean"}},
    }
    for name in templates:
        assert MAPPING["properties"][name] == {"type": "object", "dynamic": True}


def test_only_typed_data_objects_grow_fields() -> None:
    assert MAPPING["dynamic"] == "strict"
    assert MAPPING["date_detection"] is False
    assert MAPPING["numeric_detection"] is False


def test_mapping_carries_its_version() -> None:
    assert MAPPING["_meta"] == {"wfe_mapping_version": MAPPING_VERSION}
    assert MAPPING_VERSION == 1
    assert SETTINGS["index.mapping.total_fields.limit"] >= 1000
