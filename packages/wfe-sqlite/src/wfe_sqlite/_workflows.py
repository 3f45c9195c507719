"""Instances of ``SqlitePersistence``: creating, claiming, writing, reading and purging them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from wfe_core.delivery import Applied, adopt, check_delivery_time, delivered, written_pointers
from wfe_core.errors import LeaseLostError, WorkflowNameTakenError, WorkflowNotFoundError
from wfe_core.models import (
    Delivery,
    Event,
    EventSubscription,
    ExecutionPointer,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
)
from wfe_core.write_guard import write_guard
from wfe_sqlite._codec import to_micros
from wfe_sqlite._delivery import _deliver, _update_values
from wfe_sqlite._provider import _SqliteProvider
from wfe_sqlite._rows import (
    PointerRow,
    event_values,
    instance_from_row,
    load_pointers,
    pointer_rows,
    subscription_values,
    workflow_values,
)
from wfe_sqlite._sql import (
    _CLOSE_SUBSCRIPTION,
    _IN_CHUNK,
    _INSERT_EVENT,
    _INSERT_SUBSCRIPTION,
    _INSERT_WORKFLOW,
    _SELECT_WORKFLOW,
    _UPDATE_PASS,
    _UPDATE_WORKFLOW,
    _UPSERT_ROWS,
    _upsert_pointers,
)


class _WorkflowStore(_SqliteProvider):
    """The part of ``SqlitePersistence`` that stores instances and their pointers."""

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        workflow_id, create = _create_job(instance)
        name = await self._write(create, "create workflow")
        instance.id = workflow_id
        instance.name = name
        return workflow_id

    async def create_workflow_once(self, instance: WorkflowInstance) -> bool:
        """Store the instance unless its id exists (one write transaction: the id check and the insert cannot
        interleave with another host's, which waits for the database lock)."""
        name = await self._write(_create_once_job(instance), "create workflow once")
        if name is None:
            return False
        instance.name = name
        return True

    async def claim_workflow(self, workflow_id: str, fence: int) -> None:
        guard = write_guard()

        def claim(conn: sqlite3.Connection) -> None:
            # the caller's lease check again, as the write runs: it may have waited behind others meanwhile
            if guard is not None:
                guard()
            claimed = conn.execute(
                "UPDATE workflows SET fence = ? WHERE id = ? AND (fence IS NULL OR fence <= ?)",
                (fence, workflow_id, fence),
            )
            if claimed.rowcount == 0:
                found = conn.execute("SELECT fence FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
                if found is None:
                    raise WorkflowNotFoundError(workflow_id)
                raise LeaseLostError(
                    workflow_id, f"claim with fence {fence}: fence {found[0]} already accepted"
                )

        await self._write(claim, "claim workflow")

    async def persist_workflow(
        self,
        instance: WorkflowInstance,
        *,
        pointers: Sequence[ExecutionPointer] | None = None,
        subscriptions: Sequence[EventSubscription] = (),
        deliveries: Sequence[Delivery] = (),
        events: Sequence[Event] = (),
        now: datetime | None = None,
        fence: int | None = None,
    ) -> list[Delivery]:
        return await self._persist(instance, pointers, subscriptions, deliveries, events, now, fence, None)

    async def _persist(
        self,
        instance: WorkflowInstance,
        pointers: Sequence[ExecutionPointer] | None,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        events: Sequence[Event],
        now: datetime | None,
        fence: int | None,
        then: Callable[[sqlite3.Connection], object] | None,
    ) -> list[Delivery]:
        """``persist_workflow``, with ``then`` run in the same job once the instance is written (a release)."""
        check_delivery_time(deliveries, now)
        subscription_rows = [subscription_values(s) for s in subscriptions]
        event_rows = [event_values(e) for e in events]
        workflow_id = instance.id
        delivering = bool(deliveries) or (now is not None and bool(subscriptions))
        # The common pass (nothing to deliver) is serialised here, off the database thread.
        rows = None if delivering else pointer_rows(instance, pointers)
        update = None if delivering else _update_values(instance, fence, instance.next_execution)
        guard = None if fence is None else write_guard()

        def persist(conn: sqlite3.Connection) -> list[Applied]:
            # May run twice (a batch is re-run when another job in it failed): changes nothing but the rows.
            if guard is not None:
                guard()  # the caller's lease check again, as the write runs (see wfe_core.write_guard)
            outcomes: list[Applied] = []
            written = rows
            values = update
            if delivering:
                # Inside the write transaction: no event can be created between the read and the write.
                outcomes = _deliver(conn, instance, subscriptions, deliveries, now)
                written = pointer_rows(instance, written_pointers(instance, pointers, outcomes))
                due = now if any(o.pointer is not None for o in outcomes) else instance.next_execution
                values = _update_values(instance, fence, due)
            assert written is not None and values is not None
            if (
                conn.execute(*_UPDATE_PASS.bind(values[0])).rowcount == 0
                and conn.execute(*_UPDATE_WORKFLOW.bind(values[1])).rowcount == 0
            ):
                found = conn.execute("SELECT fence FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
                if found is None:
                    raise WorkflowNotFoundError(workflow_id)
                raise LeaseLostError(
                    workflow_id,
                    f"fence {fence} is older than fence {found[0]} already accepted; nothing written",
                )
            if written:
                _write_pointers(conn, written)
            if subscription_rows:
                conn.executemany(_INSERT_SUBSCRIPTION, subscription_rows)
            if event_rows:
                conn.executemany(_INSERT_EVENT, event_rows)
            if outcomes:
                conn.executemany(
                    _CLOSE_SUBSCRIPTION, [(o.consumed_event_id, o.subscription_id) for o in outcomes]
                )
            if then is not None:
                then(conn)
            return outcomes

        outcomes: list[Applied] = await self._write(persist, "persist workflow", deferred=True)
        if now is not None:
            adopt(instance, outcomes, now)
        return delivered(outcomes)

    async def get_workflow(self, workflow_id: str) -> WorkflowInstance:
        # Jobs return raw rows; models are built here, off the database thread, which every call waits for.
        def load(conn: sqlite3.Connection) -> tuple[Any, list[str]] | None:
            row = conn.execute(f"{_SELECT_WORKFLOW} WHERE id = ?", (workflow_id,)).fetchone()
            if row is None:
                row = conn.execute(f"{_SELECT_WORKFLOW} WHERE name = ?", (workflow_id,)).fetchone()
                if row is None:
                    return None
            return row, _pointer_bodies(conn, row[0])

        found: tuple[Any, list[str]] | None = await self._read(load, "get workflow")
        if found is None:
            raise WorkflowNotFoundError(workflow_id)
        row, bodies = found
        return instance_from_row(row, load_pointers(bodies))

    async def get_workflows(self, workflow_ids: Sequence[str]) -> list[WorkflowInstance]:
        ids = list(dict.fromkeys(workflow_ids))

        def load(conn: sqlite3.Connection) -> tuple[list[Any], dict[str, list[str]]]:
            rows: list[Any] = []
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(f"{_SELECT_WORKFLOW} WHERE id IN ({marks})", chunk).fetchall()
            return rows, _pointer_bodies_of(conn, [r[0] for r in rows])

        rows, bodies = await self._read(load, "get workflows")
        found = {row[0]: _instance(row, bodies) for row in rows}
        return [found[i] for i in ids if i in found]

    async def get_runnable_instances(self, as_at: datetime) -> list[str]:
        limit = to_micros(as_at)

        def load(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM workflows WHERE status = 'Runnable' AND next_execution IS NOT NULL "
                "AND next_execution <= ? ORDER BY next_execution",
                (limit,),
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._read(load, "get runnable instances")
        return result

    async def list_workflows(
        self,
        *,
        status: WorkflowStatus | None = None,
        definition_id: str | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(str(status.value))
        if definition_id is not None:
            clauses.append("definition_id = ?")
            params.append(definition_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params += [max(0, take), max(0, skip)]

        def load(conn: sqlite3.Connection) -> tuple[list[Any], dict[str, list[str]]]:
            rows = conn.execute(
                f"{_SELECT_WORKFLOW}{where} ORDER BY create_time DESC, rowid DESC LIMIT ? OFFSET ?", params
            ).fetchall()
            return rows, _pointer_bodies_of(conn, [r[0] for r in rows])

        rows, bodies = await self._read(load, "list workflows")
        return [_instance(row, bodies) for row in rows]

    async def purge_workflows(self, status: WorkflowStatus, older_than: datetime) -> int:
        params = (str(status.value), to_micros(older_than))
        doomed = (
            "SELECT id FROM workflows WHERE status = ? AND complete_time IS NOT NULL AND complete_time < ?"
        )

        def purge(conn: sqlite3.Connection) -> int:
            conn.execute(f"DELETE FROM execution_pointers WHERE workflow_id IN ({doomed})", params)
            conn.execute(f"DELETE FROM execution_errors WHERE workflow_id IN ({doomed})", params)
            conn.execute(f"DELETE FROM event_subscriptions WHERE workflow_id IN ({doomed})", params)
            return int(
                conn.execute(
                    "DELETE FROM workflows WHERE status = ? AND complete_time IS NOT NULL "
                    "AND complete_time < ?",
                    params,
                ).rowcount
            )

        result: int = await self._write(purge, "purge workflows")
        return result


def _instance(row: Any, bodies: dict[str, list[str]]) -> WorkflowInstance:
    return instance_from_row(row, load_pointers(bodies.get(row[0], ())))


def _pointer_bodies(conn: sqlite3.Connection, workflow_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT body FROM execution_pointers WHERE workflow_id = ? ORDER BY ordinal", (workflow_id,)
    ).fetchall()
    return [r[0] for r in rows]


def _pointer_bodies_of(conn: sqlite3.Connection, workflow_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for start in range(0, len(workflow_ids), _IN_CHUNK):
        chunk = workflow_ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT workflow_id, body FROM execution_pointers WHERE workflow_id IN ({marks}) "
            "ORDER BY workflow_id, ordinal",
            chunk,
        ).fetchall()
        for workflow_id, body in rows:
            result.setdefault(workflow_id, []).append(body)
    return result


def _write_pointers(conn: sqlite3.Connection, rows: Sequence[PointerRow]) -> None:
    """Upsert pointer ``rows``, up to ``_UPSERT_ROWS`` of them per statement."""
    for start in range(0, len(rows), _UPSERT_ROWS):
        chunk = rows[start : start + _UPSERT_ROWS]
        conn.execute(_upsert_pointers(len(chunk)), [value for row in chunk for value in row])


def _insert(conn: sqlite3.Connection, values: list[Any], pointers: list[Any], definition_id: str) -> str:
    """Insert the instance row (``values``, its name generated as ``{definition}-{N}`` when empty) and its
    pointers; returns the name."""
    name = values[1]
    while not name:
        # The next number and whether its name is taken, in one statement: a name given explicitly earlier may
        # collide with a generated one, which is then skipped, never reused.
        number, taken = conn.execute(
            "INSERT INTO definition_sequences (definition_id, next_num) VALUES (?, 1) "
            "ON CONFLICT (definition_id) DO UPDATE SET next_num = next_num + 1 RETURNING next_num, "
            "EXISTS (SELECT 1 FROM workflows WHERE name = ? || '-' || next_num)",
            (definition_id, definition_id),
        ).fetchone()
        if not taken:
            name = f"{definition_id}-{number}"
    values[1] = name
    conn.execute(*_INSERT_WORKFLOW.bind(values))
    _write_pointers(conn, pointers)
    return str(name)


def _create_job(instance: WorkflowInstance) -> tuple[str, Callable[[sqlite3.Connection], str]]:
    """The instance's id (``instance.id`` or a new one) and the job that inserts it, returning its name."""
    workflow_id = instance.id or new_id()
    values = list(workflow_values(instance))
    values[0] = workflow_id
    pointers = pointer_rows(instance, None)
    for i, row in enumerate(pointers):
        pointers[i] = (workflow_id, *row[1:])
    definition_id = instance.workflow_definition_id

    def create(conn: sqlite3.Connection) -> str:
        return _insert(conn, values, pointers, definition_id)

    return workflow_id, create


def _create_once_job(instance: WorkflowInstance) -> Callable[[sqlite3.Connection], str | None]:
    """The job that inserts the instance unless its id exists: its name, or None when nothing was written."""
    if not instance.id:
        raise ValueError("create_workflow_once needs instance.id: set the id that makes the start idempotent")
    values = list(workflow_values(instance))
    pointers = pointer_rows(instance, None)
    definition_id = instance.workflow_definition_id
    workflow_id = instance.id

    def create(conn: sqlite3.Connection) -> str | None:
        if conn.execute("SELECT 1 FROM workflows WHERE id = ?", (workflow_id,)).fetchone() is not None:
            return None
        name = values[1]
        if name:
            taken = conn.execute("SELECT id FROM workflows WHERE name = ?", (name,)).fetchone()
            if taken is not None:
                raise WorkflowNameTakenError(str(name), str(taken[0]))
        return _insert(conn, values, pointers, definition_id)

    return create
