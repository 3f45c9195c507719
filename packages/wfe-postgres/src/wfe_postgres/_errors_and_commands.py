"""Execution errors and scheduled commands of ``PostgresPersistence``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from wfe_core.errors import PersistenceError
from wfe_core.models import CommandName, ExecutionError, ScheduledCommand
from wfe_postgres._failures import wrapped
from wfe_postgres._provider import PostgresProvider, utc

# Named as before the provider was split into modules, so that logging configured for it still applies.
logger = logging.getLogger("wfe_postgres.persistence")


class _ErrorsAndCommands(PostgresProvider):
    """The part of ``PostgresPersistence`` that stores execution errors and scheduled commands."""

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        """Append execution errors (one pipelined batch)."""
        if not errors:
            return
        with wrapped(PersistenceError, "persist_errors"):
            async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    self._layout.q(
                        "INSERT INTO {execution_errors} (workflow_id, execution_pointer_id, error_time, message,"
                        " step_id, step_name, exception_type, traceback)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    ),
                    [
                        (
                            e.workflow_id,
                            e.execution_pointer_id,
                            utc(e.error_time),
                            e.message,
                            e.step_id,
                            e.step_name,
                            e.exception_type,
                            e.traceback,
                        )
                        for e in errors
                    ],
                )

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        """The instance's errors, oldest first."""
        with wrapped(PersistenceError, "get_errors"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT workflow_id, execution_pointer_id, error_time, message, step_id, step_name,"
                        " exception_type, traceback FROM {execution_errors}"
                        " WHERE workflow_id = %s ORDER BY error_time, seq"
                    ),
                    (workflow_id,),
                )
                rows = await cur.fetchall()
        return [
            ExecutionError(
                workflow_id=r[0],
                execution_pointer_id=r[1],
                error_time=utc(r[2]),
                message=r[3],
                step_id=r[4],
                step_name=r[5],
                exception_type=r[6],
                traceback=r[7],
            )
            for r in rows
        ]

    async def schedule_command(self, command: ScheduledCommand) -> None:
        """Store a command; scheduling the same (name, data) again keeps one, at the earliest time."""
        with wrapped(PersistenceError, "schedule_command"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(
                        "INSERT INTO {scheduled_commands} AS c (command_name, data, execute_time)"
                        " VALUES (%s, %s, %s) ON CONFLICT (command_name, data)"
                        " DO UPDATE SET execute_time = LEAST(c.execute_time, EXCLUDED.execute_time)"
                    ),
                    (command.command_name.value, command.data, utc(command.execute_time)),
                )

    async def process_commands(
        self, as_at: datetime, handler: Callable[[ScheduledCommand], Awaitable[None]]
    ) -> None:
        """Run ``handler`` for each command due at ``as_at``, deleting each once its handler returned.

        No connection is held while a handler runs. A handler that raises leaves its command for the next
        call (at-least-once across hosts); the others still run.
        """
        q = self._layout.q
        with wrapped(PersistenceError, "process_commands"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    q(
                        "SELECT command_name, data, execute_time FROM {scheduled_commands}"
                        " WHERE execute_time <= %s ORDER BY execute_time"
                    ),
                    (utc(as_at),),
                )
                due = [
                    ScheduledCommand(command_name=CommandName(r[0]), data=r[1], execute_time=utc(r[2]))
                    for r in await cur.fetchall()
                ]
        for command in due:
            try:
                await handler(command)
            except Exception:
                logger.exception(
                    "scheduled command %s(%s) failed; it stays for the next call",
                    command.command_name,
                    command.data,
                )
                continue
            with wrapped(PersistenceError, "process_commands"):
                async with self._pool.connection() as conn:
                    await conn.execute(
                        q(
                            "DELETE FROM {scheduled_commands} WHERE command_name = %s AND data"
                            " = %s AND execute_time <= %s"
                        ),
                        (command.command_name.value, command.data, command.execute_time),
                    )
