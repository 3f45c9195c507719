"""The reserved event names, apart from the event models so that steps and results can name them without
loading pydantic's models of events."""

from __future__ import annotations

ACTIVITY_EVENT_NAME = "wfe.activity"
"""Reserved event name an activity step waits on (the key is the activity name)."""

WORKFLOW_ENDED_EVENT_NAME = "wfe.workflow.ended"
"""Reserved event published when a sub-workflow ends (key: the child's id; data: status, data, error)."""
