"""Fuzzing the API with schemathesis: every operation of the OpenAPI document that a real ``wfe serve --http``
serves at /api/v1/openapi.json, called with the bearer token on cases drawn from the document (valid and
invalid ones); the server never answers 5xx and its answers conform to the document (status codes,
content types, response schemas)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("httpx")  # test tools, not dependencies of the server
schemathesis = pytest.importorskip("schemathesis")

import httpx  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

from wfe_server import openapi_document  # noqa: E402

from .serving import TOKEN, Served  # noqa: E402

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAM = "/api/v1/stream"


EXAMPLES = 10  # per operation and mode: a few hundred requests in all


def _load(served: Served, *, nul: bool = True) -> Any:
    schema = schemathesis.openapi.from_url(f"{served.base}/api/v1/openapi.json", headers=AUTH, timeout=30)
    # Every request carries the token (auth has tests of its own), and, like most HTTP APIs, this one ignores
    # query parameters it does not know: invalid cases are invalid values of the documented inputs. ``nul``:
    # whether strings may hold NUL characters, which PostgreSQL cannot keep (answered 422, see below).
    schema.config.generation.update(
        with_security_parameters=False, allow_extra_parameters=False, allow_x00=nul
    )
    return schema


def _check(case: Any, served: Served) -> None:
    if case.path == STREAM:
        # An endless event stream: check the answer's status and headers, then hang up.
        kwargs = case.as_transport_kwargs(base_url=served.base, headers=AUTH)
        with httpx.stream(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            timeout=30,
        ) as response:
            assert response.status_code < 500, (response.request.url, response.status_code)
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
        return
    case.call_and_validate(base_url=served.base, headers=AUTH, timeout=30)


def test_the_document_lists_every_route(served: Served):
    schema = _load(served)
    fuzzed = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    documented = {
        (method.upper(), path) for path, ops in openapi_document()["paths"].items() for method in ops
    }
    # schemathesis leaves out the document it was loaded from, which has no parameters to fuzz
    assert documented - fuzzed == {("GET", "/api/v1/openapi.json")}
    assert ("POST", "/api/v1/workflows") in fuzzed and ("GET", STREAM) in fuzzed


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_operation_conforms(served: Served, mode: str):
    from schemathesis import GenerationMode

    schema = _load(served, nul=mode == "negative")
    generation = GenerationMode(mode)
    unsatisfiable = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy(generation_mode=generation))
        def run(case: Any) -> None:
            _check(case, served)

        try:
            run()
        except Unsatisfiable:
            unsatisfiable.add(name)
        except Exception as error:
            raise AssertionError(f"{name} ({mode}): {error}") from error
    if mode == "positive":
        assert not unsatisfiable
    else:
        # No invalid request exists for an operation whose inputs take any value (none, or a free-form id).
        assert not unsatisfiable & {
            "POST /api/v1/workflows",
            "GET /api/v1/workflows",
            "POST /api/v1/events",
            "GET /api/v1/definitions/{definition_id}/{version}/graph",
            "GET /api/v1/workflows/{id_or_name}/graph",
        }, unsatisfiable


def test_a_nul_the_store_cannot_keep_is_refused_not_an_error(served: Served):
    with served.client() as client:
        event = client.post("/api/v1/events", json={"name": "nul\u0000", "key": "k"})
        started = client.post("/api/v1/workflows", json={"definition_id": "quick", "data": {"x": "a\u0000b"}})
    assert event.status_code in (202, 422), event.text
    assert started.status_code in (201, 422), started.text
    if event.status_code == 422:  # PostgreSQL
        assert event.json()["error"]["type"] == "ValidationError"
