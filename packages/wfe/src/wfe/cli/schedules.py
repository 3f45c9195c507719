"""``wfe schedules``: the schedules in the store, with their next firing."""

from __future__ import annotations

import click
from rich.table import Table

from wfe.cli.common import DB_HELP, cli, console, fail, run_async, store_or_exit, with_persistence
from wfe.cli.progress import timestamp
from wfe_core.models import Schedule
from wfe_core.protocols import PersistenceProvider, ScheduleStore


def timing(schedule: Schedule) -> str:
    if schedule.cron is not None:
        zone = "" if schedule.timezone == "UTC" else f" ({schedule.timezone})"
        return f"cron {schedule.cron}{zone}"
    assert schedule.every is not None
    return f"every {schedule.every}"


@cli.command(name="schedules")
@click.option("--db", help=DB_HELP)
def list_schedules(db: str | None) -> None:
    """List the schedules in the store (added by wfe serve --dir or by host.add_schedule) and their next
    firing."""
    store = store_or_exit(db)

    async def read(persistence: PersistenceProvider) -> list[Schedule] | None:
        if not isinstance(persistence, ScheduleStore):
            return None
        return await persistence.list_schedules()

    schedules = run_async(lambda: with_persistence(store, read))
    if schedules is None:
        raise fail(f"the store {store} keeps no schedules: use a SQLite or PostgreSQL store")
    out = console()
    if not schedules:
        out.print("no schedules", highlight=False)
        return
    table = Table("schedule", "workflow", "timing", "next firing", "overlap", "catch up", "last run")
    for schedule in schedules:
        table.add_row(
            schedule.schedule_id,
            schedule.definition_id + ("" if schedule.version is None else f" v{schedule.version}"),
            timing(schedule),
            timestamp(schedule.next_fire_time),
            schedule.overlap,
            schedule.catch_up,
            schedule.last_workflow_id or "",
        )
    out.print(table)
