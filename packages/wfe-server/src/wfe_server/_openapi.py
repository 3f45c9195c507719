"""The OpenAPI 3.1 document of the API (served at ``/api/v1/openapi.json``; docs/server.md is generated from
it)."""

from __future__ import annotations

from typing import Any

from wfe_core.models import WorkflowStatus
from wfe_server._requests import MAX_SKIP, MAX_TAKE, MAX_VERSION

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed input; the message names the field.",
        401: "Missing or unknown bearer token.",
        404: "Unknown id.",
        409: "Not applicable to the target in its current state.",
        422: "The host refused the values (e.g. the workflow data).",
    }
    return {str(code): _json(_ERROR, text[code]) for code in (401, *codes)}


def _id_param() -> dict[str, Any]:
    return {
        "name": "id_or_name",
        "in": "path",
        "required": True,
        "description": "The instance's id or its human name.",
        "schema": {"type": "string"},
    }


_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "dot (Graphviz) or svg (default).",
    "schema": {"type": "string", "enum": ["dot", "svg"], "default": "svg"},
}
_GRAPH = {
    "description": "The graph.",
    "content": {
        "image/svg+xml": {"schema": {"type": "string"}},
        "text/vnd.graphviz": {"schema": {"type": "string"}},
    },
}
_ACCEPTED = _json(
    {"type": "object", "properties": {"accepted": {"type": "boolean"}}, "required": ["accepted"]},
    "Whether the host accepted the request.",
)


def _control(verb: str, text: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{verb}Workflow",
            "summary": text,
            "parameters": [_id_param()],
            "responses": {"200": _ACCEPTED, **_errors(404, 409)},
        }
    }


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document."""
    statuses = [s.value for s in WorkflowStatus]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wfe server",
            "version": "1",
            "description": "Start, list, inspect and steer workflow instances of a wfe host. Every route but "
            "/healthz needs `Authorization: Bearer <token>` when the server has tokens.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "200 when the host runs and its store answers (no auth).",
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object"}, "Healthy."),
                        "503": _json({"type": "object"}, "Stopped, or the store does not answer."),
                    },
                }
            },
            "/api/v1/definitions": {
                "get": {
                    "operationId": "listDefinitions",
                    "summary": "The registered definitions.",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Definition"}},
                            "Definitions by id and version.",
                        ),
                        **_errors(),
                    },
                }
            },
            "/api/v1/definitions/{definition_id}/{version}/graph": {
                "get": {
                    "operationId": "definitionGraph",
                    "summary": "A definition's graph.",
                    "parameters": [
                        {
                            "name": "definition_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "version",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_VERSION},
                        },
                        _FORMAT,
                    ],
                    "responses": {"200": _GRAPH, **_errors(400, 404)},
                }
            },
            "/api/v1/workflows": {
                "post": {
                    "operationId": "startWorkflow",
                    "summary": "Start an instance of a registered definition (its latest version by default).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/StartRequest"}}
                        },
                    },
                    "responses": {
                        "201": _json(
                            {
                                "type": "object",
                                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                                "required": ["id", "name"],
                            },
                            "Started.",
                        ),
                        **_errors(400, 404, 422),
                    },
                },
                "get": {
                    "operationId": "listWorkflows",
                    "summary": "A page of instances, newest first.",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": statuses}},
                        {"name": "definition_id", "in": "query", "schema": {"type": "string"}},
                        {"name": "reference", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "q",
                            "in": "query",
                            "description": "Search terms (all must match).",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "skip",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SKIP, "default": 0},
                        },
                        {
                            "name": "take",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TAKE, "default": 50},
                        },
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Page"}, "A page."),
                        **_errors(400),
                    },
                },
            },
            "/api/v1/workflows/{id_or_name}": {
                "get": {
                    "operationId": "getWorkflow",
                    "summary": "An instance with its data, pointer tree, errors and outputs.",
                    "parameters": [_id_param()],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/WorkflowDetail"}, "The instance."),
                        **_errors(404),
                    },
                }
            },
            "/api/v1/workflows/{id_or_name}/graph": {
                "get": {
                    "operationId": "workflowGraph",
                    "summary": "The definition's graph coloured by the instance's pointer states.",
                    "parameters": [_id_param(), _FORMAT],
                    "responses": {"200": _GRAPH, **_errors(400, 404, 409)},
                }
            },
            "/api/v1/workflows/{id_or_name}/logs": {
                "get": {
                    "operationId": "workflowLogs",
                    "summary": "Recorded output of the finished shell and JavaScript steps, and the lines of "
                    "running steps seen by this server.",
                    "parameters": [
                        _id_param(),
                        {"name": "step", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Logs"}, "The logs."),
                        **_errors(404),
                    },
                }
            },
            "/api/v1/workflows/{id_or_name}/suspend": _control("suspend", "Suspend a runnable instance."),
            "/api/v1/workflows/{id_or_name}/resume": _control("resume", "Resume a suspended instance."),
            "/api/v1/workflows/{id_or_name}/terminate": _control("terminate", "Terminate an instance."),
            "/api/v1/events": {
                "post": {
                    "operationId": "publishEvent",
                    "summary": "Publish an event to the instances waiting for it.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/EventRequest"}}
                        },
                    },
                    "responses": {
                        "202": _json(
                            {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
                            "Stored; delivered by this host, or queued for any host.",
                        ),
                        **_errors(400, 422),
                    },
                }
            },
            "/api/v1/stream": {
                "get": {
                    "operationId": "stream",
                    "summary": "Server-Sent Events: `lifecycle` (a lifecycle event) and `log` (a step log line).",
                    "parameters": [{"name": "workflow_id", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "The stream.",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_errors(),
                    },
                }
            },
            "/api/v1/schema/workflow.json": {
                "get": {
                    "operationId": "workflowSchema",
                    "summary": "The JSON Schema of the YAML workflow format.",
                    "responses": {"200": _json({"type": "object"}, "The schema."), **_errors(404)},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": _json({"type": "object"}, "The document."), **_errors()},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                            "required": ["type", "message"],
                        }
                    },
                    "required": ["error"],
                },
                "Definition": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "version": {"type": "integer"},
                        "name": {"type": "string"},
                        "description": {"type": ["string", "null"]},
                        "step_count": {"type": "integer"},
                    },
                },
                "StartRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "definition_id": {"type": "string", "minLength": 1, "maxLength": 200},
                        "version": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_VERSION},
                        "data": {},
                        "reference": {"type": ["string", "null"], "maxLength": 1000},
                    },
                    "required": ["definition_id"],
                },
                "EventRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "key": {"type": "string", "maxLength": 1000},
                        "data": {},
                        "effective_date": {"type": ["string", "null"], "format": "date-time"},
                    },
                    "required": ["name", "key"],
                },
                "WorkflowSummary": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "definition_id": {"type": "string"},
                        "version": {"type": "integer"},
                        "status": {"type": "string", "enum": statuses},
                        "reference": {"type": ["string", "null"]},
                        "create_time": {"type": "string", "format": "date-time"},
                        "complete_time": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/WorkflowSummary"}},
                        "total": {
                            "type": "integer",
                            "description": "How many runs match; without a search index and with no reference or "
                            "q filter, a lower bound (one past this page when more follow).",
                        },
                        "more": {"type": "boolean", "description": "Whether runs follow this page."},
                        "skip": {"type": "integer"},
                        "take": {"type": "integer"},
                    },
                },
                "Pointer": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "step_id": {"type": "integer"},
                        "step": {"type": "string"},
                        "status": {"type": "string"},
                        "start_time": {"type": ["string", "null"]},
                        "end_time": {"type": ["string", "null"]},
                        "duration_ms": {"type": ["integer", "null"]},
                        "attempts": {"type": "integer"},
                        "outcome": {},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Pointer"}},
                    },
                },
                "WorkflowDetail": {
                    "allOf": [
                        {"$ref": "#/components/schemas/WorkflowSummary"},
                        {
                            "type": "object",
                            "properties": {
                                "description": {"type": ["string", "null"]},
                                "data": {},
                                "outputs": {"type": "object"},
                                "pointers": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Pointer"},
                                },
                                "errors": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "step": {"type": ["string", "null"]},
                                            "type": {"type": "string"},
                                            "message": {"type": "string"},
                                            "traceback": {"type": ["string", "null"]},
                                            "time": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    ]
                },
                "Logs": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "recorded": {"type": "array", "items": {"type": "object"}},
                        "live": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }
