"""What the commands share: the click group, consoles, failing with a message, running a coroutine, stores."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from wfe._discovery import PERSISTENCE, resolve
from wfe.cli.extras import USAGE_ERROR, MissingExtraError, require_store, require_yaml
from wfe.cli.runs import DEFAULT_STORE, STATE_DIR
from wfe_core.errors import WfeError, WorkflowNotFoundError
from wfe_core.protocols import PersistenceProvider

T = TypeVar("T")

DB_HELP = f"Store URL (default {DEFAULT_STORE}, under the current directory)."
VAR_HELP = "A pipeline variable for ((key)) / ${{ key }} placeholders; repeat for more (dotted keys nest)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wfe")
def cli() -> None:
    """wfe: run and inspect persistent workflows (YAML pipelines) from the command line."""


def console(*, stderr: bool = False) -> Console:
    # Off a terminal rich assumes 80 columns; ids alone are 36 wide, so give tables room in logs and pipes.
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else 160)


def fail(message: str, code: int = USAGE_ERROR) -> click.exceptions.Exit:
    console(stderr=True).print(message, highlight=False, markup=False)
    return click.exceptions.Exit(code)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning the CLI's known failures into messages and exit status 2."""
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


def load(pipeline: Path, config: dict[str, Any], reader: Callable[[Path], str] | None = None) -> list[Any]:
    """Every workflow of the pipeline file (and its includes), validated; exits 2 with file:line:column."""
    wfe_yaml = require_yaml()
    options = {} if reader is None else {"reader": reader}
    try:
        workflows: list[Any] = wfe_yaml.load_workflow_with_includes(pipeline, config, **options)
    except wfe_yaml.YamlError as exc:
        raise fail(str(exc)) from exc
    return workflows


async def with_persistence(url: str, use: Callable[[PersistenceProvider], Awaitable[T]]) -> T:
    persistence: PersistenceProvider = resolve(PERSISTENCE, url)
    await persistence.ensure_store_exists()
    try:
        return await use(persistence)
    finally:
        await persistence.close()
