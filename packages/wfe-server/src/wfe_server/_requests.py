"""Reading and checking request input: JSON bodies into pydantic models, query parameters into values.

Anything malformed is refused here with a 400 naming the field, so it never reaches the host."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.requests import Request

from wfe_core.models import WorkflowStatus
from wfe_server._errors import bad_request

M = TypeVar("M", bound=BaseModel)
MAX_BODY = 10 * 1024 * 1024
MAX_TAKE = 500
MAX_SKIP = 1_000_000
MAX_VERSION = 2**31 - 1  # a definition version fits the stores' 32-bit integer columns


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema has it (1 and 1.0), not pydantic's lax conversions of ``true`` and ``"1"``."""
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


def _json_date_time(value: Any) -> Any:
    """A date-time is a string (RFC 3339), not pydantic's lax reading of a number as Unix time."""
    if value is not None and not isinstance(value, str):
        raise ValueError("must be a date-time string, e.g. 2030-01-01T00:00:00Z")
    return value


# The OpenAPI document describes the bodies with JSON's types; these keep pydantic's lax mode from accepting
# more than it says (a request it calls invalid must get a 400).
JsonInteger = BeforeValidator(_json_integer)
JsonDateTime = BeforeValidator(_json_date_time)


class StartRequest(BaseModel):
    """``POST /api/v1/workflows``."""

    model_config = ConfigDict(extra="forbid")

    definition_id: str = Field(min_length=1, max_length=200)
    version: Annotated[int | None, JsonInteger] = Field(default=None, ge=1, le=MAX_VERSION)
    data: Any = None
    reference: str | None = Field(default=None, max_length=1000)


class EventRequest(BaseModel):
    """``POST /api/v1/events``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    key: str = Field(max_length=1000)
    data: Any = None
    effective_date: Annotated[datetime | None, JsonDateTime] = None


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


async def read_json(request: Request, model: type[M]) -> M:
    """The body as ``model``; 400 naming the field for malformed JSON or a field of the wrong shape."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise bad_request(f"body: larger than {MAX_BODY} bytes")
    try:
        raw = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"body: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise bad_request("body: must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise bad_request(f"{_field(first['loc'])}: {first['msg']}") from exc


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"{name}: must be an integer, not {raw!r}") from exc
    if not low <= value <= high:
        raise bad_request(f"{name}: must be between {low} and {high}")
    return value


def query_status(request: Request) -> WorkflowStatus | None:
    raw = request.query_params.get("status")
    if raw is None:
        return None
    for status in WorkflowStatus:
        if status.value.lower() == raw.lower():
            return status
    known = ", ".join(s.value for s in WorkflowStatus)
    raise bad_request(f"status: must be one of {known}, not {raw!r}")


def query_format(request: Request) -> str:
    raw = request.query_params.get("format", "svg")
    if raw not in ("dot", "svg"):
        raise bad_request(f"format: must be dot or svg, not {raw!r}")
    return raw


def path_version(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"version: must be an integer, not {raw!r}") from exc
    if not 0 <= value <= MAX_VERSION:
        raise bad_request(f"version: must be between 0 and {MAX_VERSION}")
    return value
