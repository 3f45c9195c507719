"""A tiny in-process HTTP server that speaks just enough of the OpenSearch REST API for the provider's calls.

It records every request and answers with OpenSearch-shaped responses, so the provider's HTTP layer (the
real opensearch-py client over aiohttp) is exercised without a server. It is not a search engine: ``_search``
returns every stored document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


@dataclass
class RecordingServer:
    """Start with ``await server.start()``; ``url`` is then ``http://127.0.0.1:<port>``."""

    requests: list[RecordedRequest] = field(default_factory=list)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    # When set, every request is answered with this (status, body) instead.
    fail_with: tuple[int, dict[str, Any]] | None = None
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, method: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == method]

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), body, request.headers.get("Authorization")
            )
        )
        if self.fail_with is not None:
            status, payload = self.fail_with
            return web.json_response(payload, status=status)
        parts = [part for part in request.path.split("/") if part]
        if request.method == "HEAD" and len(parts) == 2 and parts[0] == "_alias":
            return web.Response(status=200 if parts[1] in self.aliases else 404)
        if request.method == "PUT" and len(parts) == 1:
            return self._create_index(parts[0], body)
        if request.method == "PUT" and len(parts) == 3 and parts[1] == "_alias":
            self.aliases[parts[2]] = parts[0]
            return web.json_response({"acknowledged": True})
        if request.method == "PUT" and len(parts) == 3 and parts[1] == "_doc":
            created = parts[2] not in self.documents
            self.documents[parts[2]] = dict(body or {})
            result = {"_index": self.aliases.get(parts[0], parts[0]), "_id": parts[2]}
            return web.json_response({**result, "result": "created" if created else "updated"}, status=201)
        if request.method in ("GET", "POST") and len(parts) == 2 and parts[1] == "_search":
            return self._search(parts[0], body)
        return web.json_response(_error("unsupported request", "illegal_argument_exception"), status=400)

    def _create_index(self, name: str, body: Any) -> web.Response:
        if name in self.indices:
            return web.json_response(
                _error(f"index [{name}] already exists", "resource_already_exists_exception"), status=400
            )
        for alias in (body or {}).get("aliases", {}):
            if alias in self.indices:
                return web.json_response(
                    _error(
                        f"an index exists with the same name as the alias [{alias}]",
                        "invalid_alias_name_exception",
                    ),
                    status=400,
                )
            self.aliases[alias] = name
        self.indices[name] = body
        return web.json_response({"acknowledged": True, "shards_acknowledged": True, "index": name})

    def _search(self, target: str, body: Any) -> web.Response:
        if target not in self.aliases and target not in self.indices:
            return web.json_response(
                _error(f"no such index [{target}]", "index_not_found_exception"), status=404
            )
        start = (body or {}).get("from", 0)
        size = (body or {}).get("size", 10)
        hits = [
            {"_index": self.aliases.get(target, target), "_id": key, "_score": None, "_source": document}
            for key, document in self.documents.items()
        ]
        return web.json_response(
            {
                "took": 1,
                "timed_out": False,
                "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits[start : start + size]},
            }
        )


def _error(reason: str, kind: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": 400}
