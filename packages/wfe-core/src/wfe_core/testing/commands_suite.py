"""ScheduledCommandSuite: conformance tests for a store offering scheduled commands (``ScheduledCommandStore``)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from wfe_core.models import CommandName, ScheduledCommand, new_id
from wfe_core.protocols import ScheduledCommandStore
from wfe_core.testing.persistence_helpers import utc_now


class ScheduledCommandSuite:
    """Subclass it next to ``PersistenceSuite`` (same ``persistence`` fixture) when the store implements
    ``ScheduledCommandStore``."""

    pytestmark = pytest.mark.asyncio

    async def test_scheduled_commands_are_idempotent_and_run_when_due(
        self, persistence: ScheduledCommandStore
    ) -> None:
        now = utc_now()
        workflow_id, event_id, later_id = new_id(), new_id(), new_id()
        await persistence.schedule_command(
            ScheduledCommand(command_name=CommandName.PROCESS_WORKFLOW, data=workflow_id, execute_time=now)
        )
        await persistence.schedule_command(
            ScheduledCommand(command_name=CommandName.PROCESS_WORKFLOW, data=workflow_id, execute_time=now)
        )
        # Scheduling again keeps the earliest time: this one stays due now.
        await persistence.schedule_command(
            ScheduledCommand(
                command_name=CommandName.PROCESS_EVENT, data=event_id, execute_time=now + timedelta(hours=1)
            )
        )
        await persistence.schedule_command(
            ScheduledCommand(command_name=CommandName.PROCESS_EVENT, data=event_id, execute_time=now)
        )
        await persistence.schedule_command(
            ScheduledCommand(
                command_name=CommandName.PROCESS_WORKFLOW,
                data=later_id,
                execute_time=now + timedelta(hours=1),
            )
        )
        handled: list[tuple[CommandName, str]] = []

        async def handler(command: ScheduledCommand) -> None:
            handled.append((command.command_name, command.data))

        await persistence.process_commands(now + timedelta(seconds=1), handler)
        mine = [entry for entry in handled if entry[1] in {workflow_id, event_id, later_id}]
        assert sorted(mine) == sorted(
            [(CommandName.PROCESS_WORKFLOW, workflow_id), (CommandName.PROCESS_EVENT, event_id)]
        )
        handled.clear()
        await persistence.process_commands(now + timedelta(seconds=1), handler)
        assert not [entry for entry in handled if entry[1] in {workflow_id, event_id, later_id}]
        await persistence.process_commands(now + timedelta(hours=2), handler)
        assert (CommandName.PROCESS_WORKFLOW, later_id) in handled

    async def test_a_command_whose_handler_failed_stays(self, persistence: ScheduledCommandStore) -> None:
        now = utc_now()
        data = new_id()
        await persistence.schedule_command(
            ScheduledCommand(command_name=CommandName.PROCESS_WORKFLOW, data=data, execute_time=now)
        )

        async def failing(command: ScheduledCommand) -> None:
            if command.data == data:
                raise RuntimeError("handler failed")

        # A provider may report the handler's failure or log it; either way the command must stay.
        with contextlib.suppress(Exception):
            await persistence.process_commands(now + timedelta(seconds=1), failing)
        handled: list[str] = []

        async def recording(command: ScheduledCommand) -> None:
            handled.append(command.data)

        await persistence.process_commands(now + timedelta(seconds=1), recording)
        assert data in handled
