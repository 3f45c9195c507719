"""The index mapping: which document field is indexed how.

The mapping is versioned. The concrete index is ``{name}-v{MAPPING_VERSION}`` and ``{name}`` is an alias to
it, so a later mapping can be built beside the old one, reindexed, and switched to by moving the alias.
"""

from __future__ import annotations

from typing import Any

MAPPING_VERSION = 1
"""Bumped whenever :data:`MAPPING` changes incompatibly; it is part of the concrete index name."""

# Lucene refuses keyword terms over 32766 bytes; 8191 characters is the most that always fits in UTF-8.
KEYWORD_IGNORE_ABOVE = 8191

TYPED_DATA_FIELDS = {
    "data_num": {"type": "double"},
    "data_str": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
    "data_date": {"type": "date"},
    "data_bool": {"type": "boolean"},
}
"""One object per value type, each holding every data leaf of that type under its flattened path."""

_TEXT_SUBFIELD = {"text": {"type": "text"}}
_STEP_LIST = {"type": "object", "enabled": False}

MAPPING: dict[str, Any] = {
    "_meta": {"wfe_mapping_version": MAPPING_VERSION},
    # Only the typed data objects grow new fields; a document with an unknown top-level field is a bug.
    "dynamic": "strict",
    "date_detection": False,
    "numeric_detection": False,
    "dynamic_templates": [
        {name: {"path_match": f"{name}.*", "mapping": mapping}} for name, mapping in TYPED_DATA_FIELDS.items()
    ],
    "properties": {
        "id": {"type": "keyword"},
        "workflow_definition_id": {"type": "keyword", "fields": _TEXT_SUBFIELD},
        "version": {"type": "integer"},
        "description": {"type": "text"},
        "reference": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE, "fields": _TEXT_SUBFIELD},
        "status": {"type": "keyword"},
        "create_time": {"type": "date"},
        "complete_time": {"type": "date"},
        "next_execution": {"type": "date"},
        # Kept in _source for results only: indexing it directly would clash on same-named fields of
        # different types across definitions.
        "data": {"type": "object", "enabled": False},
        "data_type": {"type": "keyword"},
        "data_text": {"type": "text"},
        # Flattened paths present in the data (objects and nulls included) and those holding null: for data
        # filters with no condition (the path exists) or ``equals=None``.
        "data_paths": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
        "data_null": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
        **{name: {"type": "object", "dynamic": True} for name in TYPED_DATA_FIELDS},
        "waiting_steps": _STEP_LIST,
        "sleeping_steps": _STEP_LIST,
        "failed_steps": _STEP_LIST,
    },
}
"""The mapping of the workflow index (``mappings`` of the create-index request)."""

SETTINGS: dict[str, Any] = {
    # Every distinct data path of every value type is a field; the default limit of 1000 is low for
    # a population of many definitions.
    "index.mapping.total_fields.limit": 10000,
}
"""Index settings sent when the index is created."""

RESULT_FIELDS = (
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
)
"""The ``_source`` fields a search returns: those of ``WorkflowSearchResult``."""
