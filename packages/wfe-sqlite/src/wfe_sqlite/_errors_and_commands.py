"""Execution errors and scheduled commands of ``SqlitePersistence``."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from wfe_core.models import CommandName, ExecutionError, ScheduledCommand
from wfe_sqlite._codec import from_micros, to_micros
from wfe_sqlite._provider import _SqliteProvider

logger = logging.getLogger("wfe_sqlite")


class _ErrorsAndCommands(_SqliteProvider):
    """The part of ``SqlitePersistence`` that stores execution errors and scheduled commands."""

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        rows = [
            (
                e.workflow_id,
                e.execution_pointer_id,
                to_micros(e.error_time),
                e.message,
                e.step_id,
                e.step_name,
                e.exception_type,
                e.traceback,
            )
            for e in errors
        ]
        if not rows:
            return
        await self._write(
            lambda conn: conn.executemany(
                "INSERT INTO execution_errors (workflow_id, execution_pointer_id, error_time, message, "
                "step_id, step_name, exception_type, traceback) VALUES (?,?,?,?,?,?,?,?)",
                rows,
            ),
            "persist errors",
        )

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        def load(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "SELECT workflow_id, execution_pointer_id, error_time, message, step_id, step_name, "
                "exception_type, traceback FROM execution_errors WHERE workflow_id = ? ORDER BY error_time, seq",
                (workflow_id,),
            ).fetchall()

        return [
            ExecutionError(
                workflow_id=r[0],
                execution_pointer_id=r[1],
                error_time=from_micros(r[2]),
                message=r[3],
                step_id=r[4],
                step_name=r[5],
                exception_type=r[6],
                traceback=r[7],
            )
            for r in await self._read(load, "get errors")
        ]

    async def schedule_command(self, command: ScheduledCommand) -> None:
        params = (str(command.command_name.value), command.data, to_micros(command.execute_time))
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO scheduled_commands (command_name, data, execute_time) VALUES (?,?,?) "
                "ON CONFLICT (command_name, data) DO UPDATE SET "
                "execute_time = min(execute_time, excluded.execute_time)",
                params,
            ),
            "schedule command",
        )

    async def process_commands(
        self, as_at: datetime, handler: Callable[[ScheduledCommand], Awaitable[None]]
    ) -> None:
        limit = to_micros(as_at)

        def due(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "SELECT command_name, data, execute_time FROM scheduled_commands WHERE execute_time <= ? "
                "ORDER BY execute_time",
                (limit,),
            ).fetchall()

        for name, data, execute_time in await self._read(due, "read due commands"):
            command = ScheduledCommand(
                command_name=CommandName(name), data=data, execute_time=from_micros(execute_time)
            )
            try:
                await handler(command)
            except Exception:
                # The contract keeps a failed command for the next call; the others still run now.
                logger.exception("scheduled command %s %s failed; it stays scheduled", name, data)
                continue
            await self._write(_delete_command(name, data, execute_time), "delete processed command")


def _delete_command(name: str, data: str, execute_time: int) -> Callable[[sqlite3.Connection], Any]:
    key = (name, data, execute_time)
    # Matching the time too: a command rescheduled meanwhile (earlier) is a new one and stays.
    sql = "DELETE FROM scheduled_commands WHERE command_name = ? AND data = ? AND execute_time = ?"
    return lambda conn: conn.execute(sql, key)
