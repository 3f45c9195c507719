"""SqlitePersistence: the PersistenceProvider on SQLite."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from wfe_core.delivery import Applied, adopt, apply_delivery, delivered, first_taken, written_pointers
from wfe_core.errors import (
    EventNotFoundError,
    LeaseLostError,
    PersistenceError,
    SubscriptionNotFoundError,
    WorkflowNotFoundError,
)
from wfe_core.models import (
    CommandName,
    Delivery,
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    ScheduledCommand,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
)
from wfe_sqlite._codec import from_micros, to_micros, to_micros_opt
from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._handle import DatabaseHandle
from wfe_sqlite._rows import (
    EVENT_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    WORKFLOW_COLUMNS,
    event_from_row,
    event_values,
    instance_from_row,
    load_pointer,
    pointer_rows,
    subscription_from_row,
    subscription_values,
    workflow_values,
)
from wfe_sqlite._url import parse_sqlite_url

logger = logging.getLogger("wfe_sqlite")

_INSERT_WORKFLOW = (
    f"INSERT INTO workflows ({WORKFLOW_COLUMNS}, fence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, NULL)"
)
_UPSERT_POINTER = (
    "INSERT INTO execution_pointers (workflow_id, id, ordinal, status, body) VALUES (?,?,?,?,?) "
    "ON CONFLICT (workflow_id, id) DO UPDATE SET ordinal = excluded.ordinal, status = excluded.status, "
    "body = excluded.body"
)
# One statement checks the fence and writes: the common path costs no extra read.
_UPDATE_WORKFLOW = (
    "UPDATE workflows SET name = coalesce(nullif(?, ''), name), definition_id = ?, version = ?, "
    "description = ?, reference = ?, status = ?, data = ?, next_execution = ?, create_time = ?, "
    "complete_time = ?, parent_workflow_id = ?, root_workflow_id = ?, fence = coalesce(?, fence) "
    "WHERE id = ? AND (? IS NULL OR fence IS NULL OR fence <= ?)"
)
_INSERT_SUBSCRIPTION = (
    f"INSERT INTO event_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?)"
_CLOSE_SUBSCRIPTION = (
    "UPDATE event_subscriptions SET terminated = 1, consumed_event_id = coalesce(consumed_event_id, ?) "
    "WHERE id = ?"
)
_SELECT_SUBSCRIPTION = f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions"
_SELECT_WORKFLOW = f"SELECT {WORKFLOW_COLUMNS} FROM workflows"
_NEXT_EXECUTION = 7  # position of next_execution in the UPDATE's values (WORKFLOW_COLUMNS without the id)
_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


class SqlitePersistence:
    """Workflow state in a SQLite file (or ``:memory:``).

    Every call is one transaction on the database's worker thread; concurrent calls share commits (group
    commit). Pointers are rows of their own and a pass writes only the pointers it changed. Open it with
    ``SqlitePersistence.from_url("sqlite:///wfe.db")``; persistence, queue and lock opened on the same URL in
    one process share one connection.
    """

    def __init__(self, database: SqliteDatabase, *, retained: bool = False) -> None:
        """Use ``database`` (retaining it unless the caller already did, as ``from_url`` does)."""
        if not retained:
            database.retain()
        self._handle = DatabaseHandle(database, PersistenceError, retained=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlitePersistence:
        """Open ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``.

        Options (keywords or URL query): ``synchronous`` ("FULL" default, or "NORMAL"), ``busy_timeout``
        (seconds, default 10).
        """
        path, sqlite_options, _ = parse_sqlite_url(url, **options)
        return cls(SqliteDatabase.shared(path, sqlite_options), retained=True)

    @property
    def database(self) -> SqliteDatabase:
        return self._handle.database

    async def ensure_store_exists(self) -> None:
        self._handle.open()
        await self._handle.migrate()

    async def close(self) -> None:
        await self._handle.close()

    async def record_lock_family(self, family: str) -> str:
        def record(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO store_settings (key, value) VALUES ('lock_family', ?) ON CONFLICT (key) DO NOTHING",
                (family,),
            )
            (recorded,) = conn.execute(
                "SELECT value FROM store_settings WHERE key = 'lock_family'"
            ).fetchone()
            return str(recorded)

        result: str = await self._write(record, "record lock family")
        return result

    async def _read(self, fn: Callable[[sqlite3.Connection], Any], action: str) -> Any:
        return await self._handle.run(fn, write=False, action=action)

    async def _write(self, fn: Callable[[sqlite3.Connection], Any], action: str) -> Any:
        return await self._handle.run(fn, write=True, action=action)

    # -- workflows ---------------------------------------------------------------------------------------

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        workflow_id = instance.id or new_id()
        values = list(workflow_values(instance))
        values[0] = workflow_id
        pointers = pointer_rows(instance, None)
        for i, row in enumerate(pointers):
            pointers[i] = (workflow_id, *row[1:])
        definition_id = instance.workflow_definition_id

        def create(conn: sqlite3.Connection) -> str:
            name = values[1]
            while not name:
                (number,) = conn.execute(
                    "INSERT INTO definition_sequences (definition_id, next_num) VALUES (?, 1) "
                    "ON CONFLICT (definition_id) DO UPDATE SET next_num = next_num + 1 RETURNING next_num",
                    (definition_id,),
                ).fetchone()
                candidate = f"{definition_id}-{number}"
                # A name given explicitly earlier may collide with a generated one: skip it, never reuse.
                if conn.execute("SELECT 1 FROM workflows WHERE name = ?", (candidate,)).fetchone() is None:
                    name = candidate
            values[1] = name
            conn.execute(_INSERT_WORKFLOW, values)
            conn.executemany(_UPSERT_POINTER, pointers)
            return str(name)

        name = await self._write(create, "create workflow")
        instance.id = workflow_id
        instance.name = name
        return workflow_id

    async def claim_workflow(self, workflow_id: str, fence: int) -> None:
        def claim(conn: sqlite3.Connection) -> None:
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
        if deliveries and now is None:
            raise ValueError("persist_workflow(deliveries=...) needs now=: the time the pointers wake at")
        subscription_rows = [subscription_values(s) for s in subscriptions]
        event_rows = [event_values(e) for e in events]
        workflow_id = instance.id
        delivering = bool(deliveries) or (now is not None and bool(subscriptions))
        # The common pass (nothing to deliver) is serialised here, off the database thread.
        rows = None if delivering else pointer_rows(instance, pointers)
        update = None if delivering else _update_values(instance, fence, instance.next_execution)

        def persist(conn: sqlite3.Connection) -> list[Applied]:
            # May run twice (a batch is re-run when another job in it failed): changes nothing but the rows.
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
            if conn.execute(_UPDATE_WORKFLOW, values).rowcount == 0:
                found = conn.execute("SELECT fence FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
                if found is None:
                    raise WorkflowNotFoundError(workflow_id)
                raise LeaseLostError(
                    workflow_id,
                    f"fence {fence} is older than fence {found[0]} already accepted; nothing written",
                )
            if written:
                conn.executemany(_UPSERT_POINTER, written)
            if subscription_rows:
                conn.executemany(_INSERT_SUBSCRIPTION, subscription_rows)
            if event_rows:
                conn.executemany(_INSERT_EVENT, event_rows)
            if outcomes:
                conn.executemany(
                    _CLOSE_SUBSCRIPTION, [(o.consumed_event_id, o.subscription_id) for o in outcomes]
                )
            return outcomes

        outcomes: list[Applied] = await self._write(persist, "persist workflow")
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
        return instance_from_row(row, [load_pointer(body) for body in bodies])

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

    # -- subscriptions ---------------------------------------------------------------------------------

    async def create_subscription(self, subscription: EventSubscription) -> str:
        values = subscription_values(subscription)
        await self._write(lambda conn: conn.execute(_INSERT_SUBSCRIPTION, values), "create subscription")
        return subscription.id

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(f"{_SELECT_SUBSCRIPTION} WHERE id = ?", (subscription_id,)).fetchone()

        row = await self._read(load, "get subscription")
        if row is None:
            raise SubscriptionNotFoundError(subscription_id)
        return subscription_from_row(row)

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        params = (event_name, event_key, to_micros(as_of))

        def load(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                f"{_SELECT_SUBSCRIPTION} WHERE event_name = ? AND event_key = ? AND subscribe_as_of <= ? "
                "AND terminated = 0 ORDER BY subscribe_as_of, seq",
                params,
            ).fetchall()

        return [subscription_from_row(row) for row in await self._read(load, "get subscriptions")]

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        await self._write(
            lambda conn: conn.execute(_CLOSE_SUBSCRIPTION, (event_id, subscription_id)),
            "terminate subscription",
        )

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        params = (workflow_id, event_name, event_key)

        def load(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                "SELECT consumed_event_id FROM event_subscriptions WHERE workflow_id = ? AND event_name = ? "
                "AND event_key = ? AND consumed_event_id IS NOT NULL",
                params,
            ).fetchall()
            return {r[0] for r in rows}

        result: set[str] = await self._read(load, "get consumed event ids")
        return result

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        at = to_micros(as_of)
        params = (event_name, event_key, at, at)

        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(
                f"{_SELECT_SUBSCRIPTION} WHERE event_name = ? AND event_key = ? AND subscribe_as_of <= ? "
                "AND terminated = 0 AND (external_token IS NULL OR external_token_expiry <= ?) "
                "ORDER BY subscribe_as_of, seq LIMIT 1",
                params,
            ).fetchone()

        row = await self._read(load, "get first open subscription")
        return None if row is None else subscription_from_row(row)

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        at = to_micros(now)
        params = (token, worker_id, to_micros(expiry), subscription_id, at)

        def lease(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE event_subscriptions SET external_token = ?, external_worker_id = ?, "
                "external_token_expiry = ? WHERE id = ? AND terminated = 0 AND "
                "(external_token IS NULL OR external_token_expiry IS NULL OR external_token_expiry <= ?)",
                params,
            )
            return bool(cursor.rowcount == 1)

        result: bool = await self._write(lease, "set subscription token")
        return result

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        def clear(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "UPDATE event_subscriptions SET external_token = NULL, external_worker_id = NULL, "
                    "external_token_expiry = NULL WHERE id = ? AND external_token = ?",
                    (subscription_id, token),
                ).rowcount
            )

        if await self._write(clear, "clear subscription token") == 0:
            raise SubscriptionNotFoundError(subscription_id, "unknown, or leased with another token")

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        values = event_values(event)
        await self._write(
            lambda conn: conn.execute(_INSERT_EVENT, values),
            "create event",
        )
        return event.id

    async def get_event(self, event_id: str) -> Event:
        def load(conn: sqlite3.Connection) -> Any:
            return conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()

        row = await self._read(load, "get event")
        if row is None:
            raise EventNotFoundError(event_id)
        return event_from_row(row)

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        limit = to_micros(as_at)

        def load(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM events WHERE is_processed = 0 AND event_time <= ? ORDER BY event_time, seq",
                (limit,),
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._read(load, "get runnable events")
        return result

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        params = (event_name, event_key, to_micros(as_of))

        def load(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM events WHERE event_name = ? AND event_key = ? AND event_time >= ? "
                "ORDER BY event_time, seq",
                params,
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._read(load, "get events")
        return result

    async def mark_event_processed(self, event_id: str) -> None:
        await self._write(
            lambda conn: conn.execute("UPDATE events SET is_processed = 1 WHERE id = ?", (event_id,)),
            "mark event processed",
        )

    async def mark_event_unprocessed(self, event_id: str) -> None:
        await self._write(
            lambda conn: conn.execute("UPDATE events SET is_processed = 0 WHERE id = ?", (event_id,)),
            "mark event unprocessed",
        )

    async def purge_events(self, older_than: datetime) -> int:
        limit = to_micros(older_than)

        def purge(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "DELETE FROM events WHERE is_processed = 1 AND event_time < ?", (limit,)
                ).rowcount
            )

        result: int = await self._write(purge, "purge events")
        return result

    # -- errors --------------------------------------------------------------------------------------------

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        rows = [(e.workflow_id, e.execution_pointer_id, to_micros(e.error_time), e.message) for e in errors]
        if not rows:
            return
        await self._write(
            lambda conn: conn.executemany(
                "INSERT INTO execution_errors (workflow_id, execution_pointer_id, error_time, message) "
                "VALUES (?,?,?,?)",
                rows,
            ),
            "persist errors",
        )

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        def load(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "SELECT workflow_id, execution_pointer_id, error_time, message FROM execution_errors "
                "WHERE workflow_id = ? ORDER BY error_time, seq",
                (workflow_id,),
            ).fetchall()

        return [
            ExecutionError(
                workflow_id=r[0], execution_pointer_id=r[1], error_time=from_micros(r[2]), message=r[3]
            )
            for r in await self._read(load, "get errors")
        ]

    # -- scheduled commands ----------------------------------------------------------------------------

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


def _update_values(
    instance: WorkflowInstance, fence: int | None, next_execution: datetime | None
) -> tuple[Any, ...]:
    values = list(workflow_values(instance)[1:])
    values[_NEXT_EXECUTION] = to_micros_opt(next_execution)
    return (*values, fence, instance.id, fence, fence)


def _consumed(conn: sqlite3.Connection, workflow_id: str, event_name: str, event_key: str) -> set[str]:
    rows = conn.execute(
        "SELECT consumed_event_id FROM event_subscriptions WHERE workflow_id = ? AND event_name = ? "
        "AND event_key = ? AND consumed_event_id IS NOT NULL",
        (workflow_id, event_name, event_key),
    ).fetchall()
    return {r[0] for r in rows}


def _deliver(
    conn: sqlite3.Connection,
    instance: WorkflowInstance,
    subscriptions: Sequence[EventSubscription],
    deliveries: Sequence[Delivery],
    now: datetime | None,
) -> list[Applied]:
    """The deliveries applicable to ``instance`` and the events its new subscriptions take, read inside the
    write transaction."""
    outcomes: list[Applied] = []
    consumed: dict[tuple[str, str], set[str]] = {}

    def consumed_on(subscription: EventSubscription) -> set[str]:
        key = (subscription.event_name, subscription.event_key)
        if key not in consumed:
            consumed[key] = _consumed(conn, instance.id, *key)
        return consumed[key]

    def apply(subscription: EventSubscription, event: Event) -> None:
        outcome = apply_delivery(instance, subscription, event)
        outcomes.append(outcome)
        if outcome.pointer is not None:
            consumed_on(subscription).add(event.id)

    for delivery in deliveries:
        row = conn.execute(
            f"{_SELECT_SUBSCRIPTION} WHERE id = ? AND terminated = 0", (delivery.subscription_id,)
        ).fetchone()
        event_row = conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (delivery.event_id,)
        ).fetchone()
        if row is None or event_row is None:
            continue
        subscription = subscription_from_row(row)
        if subscription.workflow_id != instance.id or delivery.event_id in consumed_on(subscription):
            continue
        apply(subscription, event_from_row(event_row))
    if now is not None:
        for subscription in subscriptions:
            candidates = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE event_name = ? AND event_key = ? "
                "AND event_time >= ? AND event_time <= ? ORDER BY event_time, seq",
                (
                    subscription.event_name,
                    subscription.event_key,
                    to_micros(subscription.subscribe_as_of),
                    to_micros(now),
                ),
            )
            taken = first_taken(
                subscription, (event_from_row(r) for r in candidates), now, consumed_on(subscription)
            )
            if taken is not None:
                apply(subscription, taken)
    return outcomes


def _instance(row: Any, bodies: dict[str, list[str]]) -> WorkflowInstance:
    return instance_from_row(row, [load_pointer(body) for body in bodies.get(row[0], ())])


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
