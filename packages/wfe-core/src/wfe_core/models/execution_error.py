"""The record of a step failure, which stores keep apart from the instance it belongs to."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ExecutionError(BaseModel):
    """A recorded step failure (the message includes the exception type).

    The step and exception fields are None on errors stored before they existed, and on errors that are not a
    step's (a workflow whose definition is not registered)."""

    workflow_id: str
    execution_pointer_id: str | None = None
    error_time: datetime
    message: str
    step_id: int | None = None
    step_name: str | None = None
    exception_type: str | None = None
    """The exception's class: its name for a builtin, ``module.QualifiedName`` otherwise."""
    traceback: str | None = None
    """The formatted traceback (``traceback.format_exception``), ending with the exception line."""
