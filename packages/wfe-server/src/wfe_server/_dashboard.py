"""The web dashboard: server-rendered page shells plus one small script and stylesheet shipped in the package
(no build step). The pages hold no data: the script fetches everything from the API with the bearer token the
user gives once (kept in the tab's session storage) and follows ``/api/v1/stream`` to update live."""

from __future__ import annotations

from html import escape
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

STATIC = resources.files("wfe_server") / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _page(page: str, title: str, **attributes: str) -> HTMLResponse:
    extra = "".join(f' data-{key.replace("_", "-")}="{escape(value)}"' for key, value in attributes.items())
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · wfe</title>
<link rel="stylesheet" href="/static/dashboard.css">
</head>
<body data-page="{page}"{extra}>
<header class="top">
  <a class="brand" href="/">wfe</a>
  <nav><a href="/" id="nav-runs">Runs</a><a href="/definitions" id="nav-definitions">Definitions</a></nav>
  <span id="live" class="live" title="live updates">●</span>
</header>
<main id="main"><p class="muted">Loading…</p></main>
<dialog id="token-dialog">
  <form id="token-form" method="dialog">
    <label for="token-input">This server needs an access token</label>
    <input id="token-input" type="password" autocomplete="off" required>
    <button type="submit">Use token</button>
  </form>
</dialog>
<script src="/static/dashboard.js"></script>
</body>
</html>
"""
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def runs_page(request: Request) -> HTMLResponse:
    return _page("runs", "Runs")


async def run_page(request: Request) -> HTMLResponse:
    workflow_id = request.path_params["id_or_name"]
    return _page("run", workflow_id, workflow_id=workflow_id)


async def definitions_page(request: Request) -> HTMLResponse:
    return _page("definitions", "Definitions")


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or suffix not in _TYPES:
        return Response("not found", status_code=404)
    resource = STATIC / name
    if not resource.is_file():
        return Response("not found", status_code=404)
    return Response(resource.read_bytes(), media_type=_TYPES[suffix], headers={"Cache-Control": "no-cache"})


DASHBOARD_ROUTES = [
    Route("/", runs_page, methods=["GET"]),
    Route("/runs/{id_or_name}", run_page, methods=["GET"]),
    Route("/definitions", definitions_page, methods=["GET"]),
    Route("/static/{name}", static_file, methods=["GET"]),
]
