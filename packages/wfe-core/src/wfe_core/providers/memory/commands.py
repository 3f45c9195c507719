"""The execution errors and scheduled commands of ``MemoryPersistence``."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wfe_core.models import ExecutionError, ScheduledCommand
from wfe_core.providers.memory.copies import copy_model

logger = logging.getLogger("wfe_core.providers.memory.persistence")
"""The store's logger, under the name it had before its commands moved here."""


@dataclass(slots=True)
class _StoredCommand:
    command: ScheduledCommand
    seq: int


class MemoryErrorsAndCommands:
    """Errors by workflow and commands by (name, data), copied on the way in and out; every change under the
    store's guard."""

    _guard: threading.Lock
    _seq: itertools.count[int]

    def __init__(self) -> None:
        super().__init__()
        self._errors: dict[str, list[ExecutionError]] = {}
        self._commands: dict[tuple[str, str], _StoredCommand] = {}

    # -- errors --------------------------------------------------------------------------------------------

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        with self._guard:
            for error in errors:
                self._errors.setdefault(error.workflow_id, []).append(copy_model(error))

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        with self._guard:
            errors = sorted(self._errors.get(workflow_id, ()), key=lambda error: error.error_time)
            return [copy_model(error) for error in errors]

    # -- scheduled commands ----------------------------------------------------------------------------

    async def schedule_command(self, command: ScheduledCommand) -> None:
        key = (str(command.command_name), command.data)
        with self._guard:
            existing = self._commands.get(key)
            if existing is None or command.execute_time < existing.command.execute_time:
                self._commands[key] = _StoredCommand(copy_model(command), next(self._seq))

    async def process_commands(
        self, as_at: datetime, handler: Callable[[ScheduledCommand], Awaitable[None]]
    ) -> None:
        with self._guard:
            due = sorted(
                (item for item in self._commands.items() if item[1].command.execute_time <= as_at),
                key=lambda item: (item[1].command.execute_time, item[1].seq),
            )
        for key, stored in due:
            try:
                await handler(copy_model(stored.command))
            except Exception:
                logger.warning("scheduled command %s failed; it stays for the next run", key, exc_info=True)
                continue
            with self._guard:
                # Delete only what was handled: a re-schedule while the handler ran replaced the entry.
                if self._commands.get(key) is stored:
                    del self._commands[key]
