"""``POST /hooks/github`` and ``POST /hooks/gitea``: verify the HMAC signature, then start the workflows whose
``on:`` block matches the event.

Events: ``push`` (a push to a branch), ``tag`` (a push of a tag) and ``pull_request``. The started run's data
is ``{"event", "ref", "sha", "repository", "branch" or "tag", "action" (pull requests)}``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wfe_server._api import state_of
from wfe_server._errors import ApiError, bad_request
from wfe_server._requests import MAX_BODY

EVENTS = ("push", "pull_request", "tag")


@dataclass(frozen=True, slots=True)
class Trigger:
    """Start ``workflow_id`` on ``event`` when the branch (or tag) matches one of the glob patterns (any when
    there are none); for pull requests, ``branches`` match the base branch."""

    workflow_id: str
    event: str
    branches: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def matches(self, event: str, name: str) -> bool:
        if event != self.event:
            return False
        patterns = self.tags if event == "tag" else self.branches
        return not patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def triggers_from_on(workflow_id: str, on: Any) -> list[Trigger]:
    """The triggers of a workflow's ``on:`` block: ``{push: {branches: [...]}, tag: {tags: [...]},
    pull_request: {branches: [...]}}``; an event given as a bare name (``on: [push]``) matches anything."""
    if on is None:
        return []
    if isinstance(on, str):
        on = {on: None}
    if isinstance(on, list):
        on = {str(name): None for name in on}
    if not isinstance(on, dict):
        return []
    triggers = []
    for event, spec in on.items():
        if hasattr(spec, "model_dump"):  # the YAML schema's TriggerSpec
            spec = spec.model_dump()
        spec = spec if isinstance(spec, dict) else {}
        triggers.append(
            Trigger(
                workflow_id,
                str(event),
                tuple(str(b) for b in spec.get("branches") or ()),
                tuple(str(t) for t in spec.get("tags") or ()),
            )
        )
    return triggers


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    """The shared secrets the senders sign with; a hook without one refuses every delivery."""

    github: str | None = None
    gitea: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _verify(secret: str | None, body: bytes, signature: str | None, prefix: str) -> bool:
    if not secret or not signature:
        return False
    if prefix:
        if not signature.startswith(prefix):
            return False
        signature = signature[len(prefix) :]
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def event_of(kind: str, payload: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(event, branch or tag name, run data) for a delivery, or None for an event nothing maps."""
    repository = payload.get("repository") or {}
    repo_name = repository.get("full_name") if isinstance(repository, dict) else None
    if kind == "push":
        ref = str(payload.get("ref") or "")
        sha = payload.get("after")
        if ref.startswith("refs/tags/"):
            name = ref[len("refs/tags/") :]
            return "tag", name, {"event": "tag", "ref": ref, "sha": sha, "repository": repo_name, "tag": name}
        name = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
        return (
            "push",
            name,
            {"event": "push", "ref": ref, "sha": sha, "repository": repo_name, "branch": name},
        )
    if kind == "pull_request":
        pull = payload.get("pull_request") or {}
        if not isinstance(pull, dict):
            return None
        head = pull.get("head") or {}
        base = pull.get("base") or {}
        base_name = str(base.get("ref") or "") if isinstance(base, dict) else ""
        data = {
            "event": "pull_request",
            "action": payload.get("action"),
            "ref": head.get("ref") if isinstance(head, dict) else None,
            "sha": head.get("sha") if isinstance(head, dict) else None,
            "repository": repo_name,
            "branch": base_name,
            "number": pull.get("number") or payload.get("number"),
        }
        return "pull_request", base_name, data
    return None


async def _deliver(request: Request, source: str) -> JSONResponse:
    secrets: WebhookSecrets = request.app.state.secrets
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, "PayloadTooLarge", f"body: larger than {MAX_BODY} bytes")
    if source == "github":
        ok = _verify(secrets.github, body, request.headers.get("x-hub-signature-256"), "sha256=")
        kind = request.headers.get("x-github-event", "")
    else:
        ok = _verify(secrets.gitea, body, request.headers.get("x-gitea-signature"), "")
        kind = request.headers.get("x-gitea-event", "")
    if not ok:
        raise ApiError(
            401, "Unauthorized", f"bad or missing {source} signature (or no {source} secret configured)"
        )
    if kind == "ping":
        return JSONResponse({"started": []}, status_code=200)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"body: not JSON ({exc})") from exc
    if not isinstance(payload, dict):
        raise bad_request("body: must be a JSON object")
    found = event_of(kind, payload)
    if found is None:
        return JSONResponse({"started": [], "ignored": kind}, status_code=202)
    event, name, data = found
    state = state_of(request)
    started = []
    for trigger in request.app.state.triggers:
        if trigger.matches(event, name):
            workflow_id = await state.host.start_workflow(
                trigger.workflow_id, None, dict(data), reference=f"{source}:{event}:{data.get('sha')}"
            )
            started.append({"id": workflow_id, "definition_id": trigger.workflow_id})
    return JSONResponse({"started": started}, status_code=202)


async def github(request: Request) -> JSONResponse:
    return await _deliver(request, "github")


async def gitea(request: Request) -> JSONResponse:
    return await _deliver(request, "gitea")


WEBHOOK_ROUTES = [
    Route("/hooks/github", github, methods=["POST"]),
    Route("/hooks/gitea", gitea, methods=["POST"]),
]
