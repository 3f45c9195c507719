"""What the commands share: the click group, consoles, failing with a message, running a coroutine, stores."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wfe.cli import collector
from wfe.cli.extras import USAGE_ERROR, MissingExtraError, require_store, require_yaml
from wfe.cli.lazy import LazyGroup
from wfe.cli.state import DEFAULT_STORE, STATE_DIR
from wfe_core.errors import WfeError, WorkflowNotFoundError

if TYPE_CHECKING:
    # rich, the providers' protocols and pydantic are imported by the commands that use them, not by `wfe --help`.
    from rich.console import Console

    from wfe_core.protocols import PersistenceProvider

T = TypeVar("T")

DB_HELP = f"Store URL (default {DEFAULT_STORE}, under the current directory)."
VAR_HELP = "A pipeline variable for ((key)) / ${{ key }} placeholders; repeat for more (dotted keys nest)."


REMOTE_VERBS = ("run", "list", "show", "logs", "terminate", "suspend", "resume", "publish", "watch")


class _Group(LazyGroup):
    """The ``wfe`` group: with ``--server`` (or ``WFE_SERVER``), the remote verbs answer instead of the local
    ones (see :mod:`wfe.cli.remote`)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if ctx.params.get("server") and cmd_name in REMOTE_VERBS:
            from wfe.cli.remote import remote

            return remote.get_command(ctx, cmd_name)
        return super().get_command(ctx, cmd_name)


LAZY_COMMANDS = {
    "fork": (
        "wfe.cli.forking",
        "Start a new run of run ID's pipeline (as it was started) that keeps the steps before STEP, with the "
        "run's data as it is now, and runs from STEP on here, to its end. ID stays as it is.",
    ),
    "list": ("wfe.cli.inspecting", "List runs in the store, newest first."),
    "logs": (
        "wfe.cli.inspecting",
        "Print the recorded output of the steps of run ID (or of STEP alone): stdout, then stderr.",
    ),
    "resume": (
        "wfe.cli.running",
        "Resume run ID (id or name) with the pipeline and variables it was started with, here, to its end.",
    ),
    "run": (
        "wfe.cli.running",
        "Validate PIPELINE, run it here with a live progress view; exit 0 when it completes.",
    ),
    "schedules": (
        "wfe.cli.schedules",
        "List the schedules in the store (added by wfe serve --dir or by host.add_schedule) and their next firing.",
    ),
    "serve": (
        "wfe.cli.serving",
        "Run a host for every YAML workflow in FOLDER until SIGTERM or SIGINT, then stop gracefully; with "
        "--http, also the HTTP API and dashboard.",
    ),
    "show": (
        "wfe.cli.inspecting",
        "Show run ID (id or name): its steps with status and times, its errors, its outputs and data.",
    ),
    "suspend": (
        "wfe.cli.control",
        "Suspend run ID (id or name) once its running steps end; wfe resume ID goes on with it.",
    ),
    "terminate": (
        "wfe.cli.control",
        "Terminate run ID (id or name): its running steps are cancelled and it ends Terminated.",
    ),
}
"""The commands whose module is imported only when they are used: name -> (module, first paragraph of the
command's docstring, listed by ``wfe --help``). Commands defined in ``wfe.cli.commands`` are always loaded."""


@click.group(
    cls=_Group, lazy_commands=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="wfe")
@click.option(
    "--server",
    envvar="WFE_SERVER",
    metavar="URL",
    help=f"Drive a remote `wfe serve --http` instead of a local store ({', '.join(REMOTE_VERBS)}).",
)
@click.option("--token", envvar="WFE_TOKEN", help="The server's bearer token (also: WFE_TOKEN).")
@click.pass_context
def cli(ctx: click.Context, server: str | None, token: str | None) -> None:
    """wfe: run and inspect persistent workflows (YAML pipelines) from the command line."""
    ctx.obj = {"server": server, "token": token}
    if ctx.invoked_subcommand not in RUN_NO_STEPS:
        quiet_step_failures()


RUN_NO_STEPS = frozenset({"validate", "graph", "schema"})
"""The commands that never run a step: they leave logging alone (and do not import it)."""


def quiet_step_failures() -> None:
    """The commands show each step failure themselves (and ``wfe show`` its traceback): unless logging was
    configured, the engine's ``wfe.steps`` records are not printed as well."""
    import logging

    steps = logging.getLogger("wfe.steps")
    if not any(isinstance(h, logging.NullHandler) for h in steps.handlers):
        steps.addHandler(logging.NullHandler())


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # Off a terminal rich assumes 80 columns; ids alone are 36 wide, so give tables room in logs and pipes. Lines
    # of text are never wrapped there: a log line is read, and grepped, whole.
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=160, soft_wrap=True)


def fail(message: str, code: int = USAGE_ERROR) -> click.exceptions.Exit:
    # Never wrapped: an error names file:line:column and is read (and grepped) whole, on a terminal or in a log.
    click.echo(message, err=True)
    return click.exceptions.Exit(code)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning the CLI's known failures into messages and exit status 2."""
    import asyncio

    collector.resume()  # a command on the event loop may run for long: collect (see wfe.cli.collector)
    try:
        return asyncio.run(factory())
    except MissingExtraError as exc:
        raise fail(str(exc)) from exc
    except WorkflowNotFoundError as exc:
        raise fail(f"{exc} (wfe list shows the runs in the store)") from exc
    except WfeError as exc:
        raise fail(str(exc)) from exc


def store_or_exit(db: str | None) -> str:
    """The store URL (``--db`` or the default under ``.wfe/``); exits 2 when its package is missing."""
    url = db or DEFAULT_STORE
    try:
        require_store(url)
    except MissingExtraError as exc:
        raise fail(str(exc)) from exc
    if db is None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
    return url


def require_or_exit() -> None:
    """Exit 2 with the install command when wfe-yaml is missing."""
    try:
        require_yaml()
    except MissingExtraError as exc:
        raise fail(str(exc)) from exc


def load(
    pipeline: Path,
    config: dict[str, Any],
    reader: Callable[[Path], str] | None = None,
    *,
    strict: bool = False,
) -> list[Any]:
    """Every workflow of the pipeline file (and its includes), validated; exits 2 with file:line:column.

    ``reader`` reads each file (default: from disk). What the file asks for that wfe ignores is printed to
    stderr as ``file:line:column: warning: ...`` (an error, exit 2, with ``strict``)."""
    wfe_yaml = require_yaml()
    options: dict[str, Any] = {"strict": strict}
    if reader is not None:
        options["reader"] = reader
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wfe_yaml.YamlWarning)  # printed below, once, in compiler style
            workflows: list[Any] = wfe_yaml.load_workflow_with_includes(pipeline, config, **options)
    except wfe_yaml.YamlError as exc:
        raise fail(str(exc)) from exc
    for workflow in workflows:
        for warning in workflow.warnings:
            where = ":".join(str(p) for p in (warning.path, warning.line, warning.column) if p is not None)
            click.echo(f"{where}: warning: {warning.message}", err=True)
    return workflows


async def with_persistence(url: str, use: Callable[[PersistenceProvider], Awaitable[T]]) -> T:
    from wfe._discovery import PERSISTENCE, resolve

    persistence: PersistenceProvider = resolve(PERSISTENCE, url)
    await persistence.ensure_store_exists()
    try:
        return await use(persistence)
    finally:
        await persistence.close()
