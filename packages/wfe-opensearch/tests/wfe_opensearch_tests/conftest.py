"""Shared sample instances for the wfe-opensearch tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wfe_core.models import WorkflowInstance, WorkflowStatus, new_id

from .samples import MakeInstance


@pytest.fixture
def make_instance() -> MakeInstance:
    """Build an instance with sensible defaults; keyword arguments override fields."""

    def make(**fields: Any) -> WorkflowInstance:
        values: dict[str, Any] = {
            "id": new_id(),
            "workflow_definition_id": "order-flow",
            "version": 1,
            "status": WorkflowStatus.RUNNABLE,
            "create_time": datetime(2020, 5, 1, 12, 0, tzinfo=UTC),
        }
        values.update(fields)
        return WorkflowInstance(**values)

    return make
