"""Request bodies are read as the OpenAPI document describes them, with JSON's types: no lax conversions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.requests import Request

from wfe_server._errors import ApiError
from wfe_server._requests import EventRequest, StartRequest, read_json


def _request(body: Any) -> Request:
    payload = json.dumps(body).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": payload, "more_body": False}

    return Request({"type": "http", "method": "POST", "headers": []}, receive)


async def test_a_date_time_string_is_read_and_a_missing_one_is_none():
    event = await read_json(
        _request({"name": "a", "key": "k", "effective_date": "2030-01-01T00:00:00Z"}), EventRequest
    )
    assert event.effective_date == datetime(2030, 1, 1, tzinfo=UTC)
    assert (await read_json(_request({"name": "a", "key": "k"}), EventRequest)).effective_date is None
    assert (await read_json(_request({"definition_id": "d", "version": 3}), StartRequest)).version == 3
    # JSON Schema's integer: 3.0 is one
    assert (await read_json(_request({"definition_id": "d", "version": 3.0}), StartRequest)).version == 3


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (EventRequest, {"name": "a", "key": "k", "effective_date": 1700000000}, "effective_date"),
        (EventRequest, {"name": "a", "key": "k", "effective_date": 1.5}, "effective_date"),
        (EventRequest, {"name": "a", "key": 7}, "key"),
        (StartRequest, {"definition_id": "d", "version": True}, "version"),
        (StartRequest, {"definition_id": "d", "version": "3"}, "version"),
        (StartRequest, {"definition_id": "d", "version": 3.5}, "version"),
        (StartRequest, {"definition_id": "d", "reference": 5}, "reference"),
    ],
)
async def test_a_value_of_another_json_type_is_refused_naming_the_field(model, body, field):
    with pytest.raises(ApiError) as caught:
        await read_json(_request(body), model)
    assert caught.value.status == 400
    assert caught.value.message.startswith(f"{field}:"), caught.value.message
