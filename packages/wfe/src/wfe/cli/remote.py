"""``wfe --server URL VERB``: the verbs that drive a remote ``wfe serve --http`` over its JSON API instead of a
local store: run, list, show, logs, terminate, suspend, resume, publish and watch.

The server comes from ``--server`` or ``WFE_SERVER``, the bearer token from ``--token`` or ``WFE_TOKEN``. Only
the standard library is used (urllib), so the client needs no extra package.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import click
from rich.table import Table

from wfe.cli.common import console, fail

ENDING = {"WorkflowCompleted", "WorkflowTerminated"}


class Remote:
    """The API of one server."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> urllib.request.Request:
        query = {k: v for k, v in params.items() if v is not None}
        url = f"{self.base}/api/v1{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        return request

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """The JSON answer; exits 2 with the server's error message (or why it could not be reached)."""
        request = self._request(method, path, body, **params)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise fail(f"{self.base}: {exc.code} {_message(exc.read()) or exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise fail(f"cannot reach {self.base}: {reason}") from exc
        return json.loads(raw) if kind.startswith("application/json") else raw.decode("utf-8")

    def open_stream(self, workflow_id: str | None = None) -> Any:
        """Subscribe to the server's event stream (messages are kept from now on); read it with
        :func:`messages`."""
        request = self._request("GET", "/stream", workflow_id=workflow_id)
        try:
            return urllib.request.urlopen(request, timeout=None)
        except urllib.error.HTTPError as exc:
            raise fail(f"{self.base}: {exc.code} {_message(exc.read()) or exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise fail(f"cannot reach {self.base}: {getattr(exc, 'reason', exc)}") from exc


def messages(response: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, payload) for each message of an opened event stream."""
    with response:
        event = "message"
        data: list[str] = []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data:
                    yield event, json.loads("\n".join(data))
                event, data = "message", []
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace")[:200]


def _remote(ctx: click.Context) -> Remote:
    obj = ctx.find_root().obj or {}
    return Remote(obj["server"], obj.get("token"))


def _json_arg(data: str | None, what: str) -> Any:
    try:
        return None if data is None else json.loads(data)
    except json.JSONDecodeError as exc:
        raise fail(
            f"{what} is not JSON ({exc.msg} at column {exc.colno}); quote it, e.g. '{{\"ok\": true}}'"
        ) from exc


def _print_message(event: str, message: dict[str, Any], *, prefix: bool) -> None:
    out = console()
    if event == "log":
        who = f"{str(message['workflow_id'])[:8]}/{message['step']}" if prefix else str(message["step"])
        mark = " stderr|" if message.get("stream") == "stderr" else ""
        out.print(f"[{who}]{mark} {message['text']}", highlight=False, markup=False, soft_wrap=True)
    else:
        step = f" {message['step_name']}" if message.get("step_name") else ""
        where = f"{str(message['workflow_id'])[:8]} " if prefix else ""
        out.print(f"{where}{message.get('kind')}{step}", highlight=False, markup=False, soft_wrap=True)


@click.group(name="wfe --server")
def remote() -> None:
    """The verbs of a remote server."""


@remote.command()
@click.argument("definition_id", metavar="DEFINITION")
@click.argument("data", required=False, metavar="[DATA-JSON]")
@click.option("--version", "version", type=int, help="The definition version (default: the latest).")
@click.option("--reference", help="A reference of your own for the run.")
@click.option("--detach", is_flag=True, help="Print the run's id and return at once.")
@click.pass_context
def run(
    ctx: click.Context,
    definition_id: str,
    data: str | None,
    version: int | None,
    reference: str | None,
    detach: bool,
) -> None:
    """Start a registered workflow on the server and follow it until it ends (exit 0 when complete)."""
    server = _remote(ctx)
    body: dict[str, Any] = {
        "definition_id": definition_id,
        "data": _json_arg(data, "DATA"),
        "reference": reference,
    }
    if version is not None:
        body["version"] = version
    # Subscribed before the run starts, so that none of its lines is missed.
    stream = None if detach else server.open_stream()
    started = server.call("POST", "/workflows", body)
    click.echo(f"started {started['name']} ({started['id']})")
    if stream is None:
        return
    for event, message in messages(stream):
        if message.get("workflow_id") != started["id"]:
            continue
        _print_message(event, message, prefix=False)
        if event == "lifecycle" and message.get("kind") in ENDING:
            break
    status = server.call("GET", f"/workflows/{started['id']}")["status"]
    click.echo(f"{started['name']}: {status}")
    raise click.exceptions.Exit(0 if status == "Complete" else 1)


@remote.command(name="list")
@click.option("--status", help="Only runs with this status (Runnable, Suspended, Complete, Terminated).")
@click.option("--definition", help="Only runs of this definition id.")
@click.option("--search", "terms", help="Search terms.")
@click.option("--limit", default=50, show_default=True, help="How many runs to show, newest first.")
@click.pass_context
def list_runs(
    ctx: click.Context, status: str | None, definition: str | None, terms: str | None, limit: int
) -> None:
    """List the server's runs, newest first."""
    page = _remote(ctx).call(
        "GET", "/workflows", status=status, definition_id=definition, q=terms, take=limit
    )
    out = console()
    if not page["items"]:
        out.print("no runs", highlight=False)
        return
    table = Table("name", "id", "definition", "status", "created", "completed")
    for item in page["items"]:
        table.add_row(
            item["name"],
            item["id"],
            f"{item['definition_id']} v{item['version']}",
            item["status"],
            item["create_time"] or "",
            item["complete_time"] or "",
        )
    out.print(table)


@remote.command()
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run as the API returns it.")
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Show run ID (id or name): its steps, errors, outputs and data."""
    run = _remote(ctx).call("GET", f"/workflows/{urllib.parse.quote(run_id, safe='')}")
    if as_json:
        click.echo(json.dumps(run, indent=2))
        return
    out = console()
    for label, key in (("name", "name"), ("id", "id"), ("status", "status"), ("created", "create_time")):
        out.print(f"{label + ':':<12}{run[key] or ''}", highlight=False)
    out.print(f"{'definition:':<12}{run['definition_id']} v{run['version']}", highlight=False)
    table = Table("step", "status", "started", "took", "attempts", title="steps", title_justify="left")

    def add(pointers: list[dict[str, Any]], depth: int) -> None:
        for p in pointers:
            took = "" if p["duration_ms"] is None else f"{p['duration_ms'] / 1000:.2f}s"
            table.add_row(
                "  " * depth + p["step"], p["status"], p["start_time"] or "", took, str(p["attempts"])
            )
            add(p["children"], depth + 1)

    add(run["pointers"], 0)
    out.print(table)
    for error in run["errors"]:
        out.print(
            f"error: {error['step']}: {error['type']}: {error['message']}", highlight=False, markup=False
        )
    click.echo("outputs:")
    click.echo(json.dumps(run["outputs"], indent=2, sort_keys=True))
    click.echo("data:")
    click.echo(json.dumps(run["data"], indent=2, sort_keys=True))


@remote.command()
@click.argument("run_id", metavar="ID")
@click.argument("step", required=False)
@click.pass_context
def logs(ctx: click.Context, run_id: str, step: str | None) -> None:
    """Print the recorded output of the steps of run ID (or of STEP alone), then the lines of running steps."""
    found = _remote(ctx).call("GET", f"/workflows/{urllib.parse.quote(run_id, safe='')}/logs", step=step)
    for entry in found["recorded"]:
        if step is None:
            click.echo(f"== {entry['step']} ({entry['stream']})")
        click.echo(entry["text"], nl=not entry["text"].endswith("\n"), err=entry["stream"] == "stderr")
    for line in found["live"]:
        click.echo(f"[{line['step']}] {line['text']}")


def _control(action: str) -> click.Command:
    @click.argument("run_id", metavar="ID")
    @click.pass_context
    def command(ctx: click.Context, run_id: str) -> None:
        answer = _remote(ctx).call("POST", f"/workflows/{urllib.parse.quote(run_id, safe='')}/{action}")
        click.echo(f"{action} {run_id}: {'accepted' if answer['accepted'] else 'not accepted'}")
        if not answer["accepted"]:
            raise click.exceptions.Exit(1)

    command.__doc__ = f"{action.capitalize()} run ID (id or name) on the server."
    return click.command(name=action)(command)


for _action in ("terminate", "suspend", "resume"):
    remote.add_command(_control(_action))


@remote.command()
@click.argument("event_name", metavar="EVENT")
@click.argument("event_key", metavar="KEY")
@click.argument("data", required=False, metavar="[DATA-JSON]")
@click.pass_context
def publish(ctx: click.Context, event_name: str, event_key: str, data: str | None) -> None:
    """Publish event EVENT with KEY (and JSON DATA) through the server."""
    body = {"name": event_name, "key": event_key, "data": _json_arg(data, "DATA")}
    answer = _remote(ctx).call("POST", "/events", body)
    click.echo(f"published {event_name} {event_key}: {answer['id']}")


@remote.command()
@click.argument("run_id", required=False, metavar="[ID]")
@click.pass_context
def watch(ctx: click.Context, run_id: str | None) -> None:
    """Print the server's lifecycle events and step log lines (of run ID alone when given) until interrupted,
    or until run ID ends."""
    server = _remote(ctx)
    if run_id is not None:
        run_id = server.call("GET", f"/workflows/{urllib.parse.quote(run_id, safe='')}")["id"]
    stream = server.open_stream(run_id)
    if run_id is not None and server.call("GET", f"/workflows/{run_id}")["status"] in (
        "Complete",
        "Terminated",
    ):
        stream.close()
        return
    try:
        for event, message in messages(stream):
            _print_message(event, message, prefix=run_id is None)
            if run_id is not None and event == "lifecycle" and message.get("kind") in ENDING:
                return
    except KeyboardInterrupt:
        return
