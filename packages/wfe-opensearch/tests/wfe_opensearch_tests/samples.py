"""Sample data types shared by the wfe-opensearch tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from wfe_core.models import WorkflowInstance


class OrderData(BaseModel):
    order_id: int
    customer: str
    placed: datetime
    express: bool = False
    tags: list[str] = []


MakeInstance = Callable[..., WorkflowInstance]
