"""How values are stored: times as integer microseconds since the epoch (UTC), structured values as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic_core
from pydantic import BaseModel

from wfe_core.models import to_jsonable
from wfe_core.storable import unstorable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Integer arithmetic on the timedelta keeps every microsecond (a float timestamp would not).
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_micros_opt(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def from_micros(value: int) -> datetime:
    """The timezone-aware UTC datetime for ``value`` microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def from_micros_opt(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def dump_json(value: Any, where: str = "data") -> str | None:
    """JSON text for ``value`` (pydantic models, datetimes and UUIDs included); None stays SQL NULL. A value
    that is not JSON raises ``UnstorableDataError`` naming its key path from ``where``."""
    if value is None:
        return None
    try:
        return pydantic_core.to_json(to_jsonable(value)).decode()
    except pydantic_core.PydanticSerializationError as exc:
        raise (unstorable(value, where) or exc) from None


def dump_model(model: BaseModel) -> str:
    """JSON text of a model (an execution pointer: the outputs of its step), the text ``model_dump_json()``
    gives; ``UnstorableDataError`` as :func:`dump_json`.

    The model's serializer is called directly: ``model_dump_json`` passes it a dozen defaulted options first,
    which cost a third of writing a pointer."""
    try:
        return model.__pydantic_serializer__.to_json(model).decode()
    except pydantic_core.PydanticSerializationError as exc:
        raise (unstorable(model, type(model).__name__) or exc) from None


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
