"""A click group whose subcommands live in modules imported only when the command is run (or its own help shown).

``wfe --help`` lists every command from the summaries given here, so it imports none of the modules behind them
(rich, the host, the providers); ``wfe validate`` imports only what validating needs. A module registers its
commands on the group (``@cli.command()``) when it is imported, as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A ``click.Group`` that imports a command's module on first use.

    ``lazy_commands`` maps a command name to ``(module, summary)``: importing ``module`` must register the
    command on this group, and ``summary`` is the first paragraph of the command's docstring (what the group's
    help lists; a test checks both stay in step with the commands).
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, str]] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # click (8.4 on) suggests a close name among the loaded commands only: suggest among all of them.
            no_such = getattr(click.exceptions, "NoSuchCommand", None)
            if no_such is not None and isinstance(exc, no_such):
                raise no_such(exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None
            name = args[0] if args else ""
            if no_such is not None or not exc.message.startswith(f"No such command {name!r}"):
                raise
            # click before 8.2 suggests nothing: name the close commands the way later releases do.
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx))
            if not close:
                raise
            hint = (
                f"Did you mean {close[0]!r}?"
                if len(close) == 1
                else f"(Possible commands: {', '.join(map(repr, close))})"
            )
            raise click.UsageError(f"{exc.message} {hint}", ctx) from None

    def load(self, cmd_name: str) -> click.Command:
        """Import the module of ``cmd_name`` (which registers it) and return the command."""
        module, _ = self.lazy_commands[cmd_name]
        importlib.import_module(module)
        command = self.commands.get(cmd_name)
        if command is None:
            raise RuntimeError(f"importing {module} did not register the command {cmd_name!r} on the group")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # A command not imported yet is listed through a stand-in carrying its summary: click shortens that the
        # same way as the real command's docstring.
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy_commands[name][1])
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])
