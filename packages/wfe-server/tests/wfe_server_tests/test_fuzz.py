"""Fuzzing the API from its OpenAPI document with hypothesis: bodies drawn from each request schema (by the
small JSON Schema strategy below, which covers the keywords the document uses), arbitrary JSON, query values
and ids; the server never answers 5xx."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

import httpx  # noqa: E402
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_server import openapi_document

from .serving import Served

pytestmark = pytest.mark.slow

DOCUMENT = openapi_document()
SCHEMAS = DOCUMENT["components"]["schemas"]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a JSON Schema using type (one or a list), properties, required, additionalProperties,
    minLength, maxLength, minimum, maximum and format date-time; ``{}`` is any JSON."""
    if not schema:
        return json_values
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    if types == "null":
        return st.none()
    if types == "string":
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda d: d.isoformat() + "Z") | st.text(max_size=10)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if types == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if types == "boolean":
        return st.booleans()
    if types == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = {k: from_schema(v) for k, v in properties.items() if k in required}
        optional = {k: from_schema(v) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return json_values


def _schema(name: str) -> dict[str, Any]:
    return copy.deepcopy(SCHEMAS[name])


def _no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)


def test_start_bodies_from_the_schema(served: Served):
    @FUZZ
    @given(from_schema(_schema("StartRequest")) | json_values)
    def run(body: Any) -> None:
        with served.client() as client:
            _no_5xx(client.post("/api/v1/workflows", json=body))

    run()


def test_event_bodies_from_the_schema(served: Served):
    @FUZZ
    @given(from_schema(_schema("EventRequest")) | json_values)
    def run(body: Any) -> None:
        with served.client() as client:
            _no_5xx(client.post("/api/v1/events", json=body))

    run()


def test_query_parameters_and_path_ids(served: Served):
    listing = DOCUMENT["paths"]["/api/v1/workflows"]["get"]["parameters"]
    names = [p["name"] for p in listing]
    text = st.text(max_size=30)

    @FUZZ
    @given(
        st.dictionaries(st.sampled_from(names), text, max_size=len(names)),
        text,
        st.sampled_from(["dot", "svg", "x"]),
    )
    def run(params: dict[str, str], some_id: str, fmt: str) -> None:
        quoted = quote(some_id, safe="") or "x"
        with served.client() as client:
            _no_5xx(client.get("/api/v1/workflows", params=params))
            _no_5xx(client.get(f"/api/v1/workflows/{quoted}"))
            _no_5xx(client.get(f"/api/v1/workflows/{quoted}/logs"))
            _no_5xx(client.get(f"/api/v1/definitions/quick/{quoted}/graph", params={"format": fmt}))
            _no_5xx(client.post(f"/api/v1/workflows/{quoted}/suspend"))

    run()
