"""``PostgresPersistence``: workflow state in PostgreSQL, shared by many hosts."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter
from pydantic_core import to_json, to_jsonable_python

from wfe_core.delivery import Applied, adopt, apply_delivery, delivered, first_taken, written_pointers
from wfe_core.errors import (
    EventNotFoundError,
    LeaseLostError,
    PersistenceError,
    ProviderError,
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
    to_jsonable,
)
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._provider import PostgresProvider, utc, utc_or_none

logger = logging.getLogger(__name__)

_WORKFLOW_COLUMNS = (
    "id, name, definition_id, version, description, reference, status, data, next_execution, create_time,"
    " complete_time, parent_workflow_id, root_workflow_id"
)
_SUBSCRIPTION_COLUMNS = (
    "id, workflow_id, step_id, execution_pointer_id, event_name, event_key,"
    " subscribe_as_of, subscription_data,"
    " external_token, external_worker_id, external_token_expiry"
)
_EVENT_COLUMNS = "id, event_name, event_key, event_data, event_time, is_processed"

# Writes are group commits: the starts (or passes) of many instances asked for at the same time go in one
# statement of data-modifying CTEs, one round trip and one commit, each instance's rows all or nothing. The
# instances travel as one JSON array of rows, each with its pointers as a JSON array; pointer rows are
# inserted in array order, which is their creation order (seq).
_INSTANCE_ROWS = (
    "v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(n int, id text, name text, definition_id text,"
    " version int, description text, reference text, status text, data jsonb, next_execution timestamptz,"
    " create_time timestamptz, complete_time timestamptz, parent_workflow_id text, root_workflow_id text,"
    " fence bigint, pointers jsonb, subscriptions jsonb))"
)
_POINTER_ROWS = (
    "INSERT INTO {execution_pointers} (workflow_id, id, step_id, status, event_name, event_key, body)"
    " SELECT v.id, e.body->>'id', (e.body->>'step_id')::int, e.body->>'status', e.body->>'event_name',"
    " e.body->>'event_key', e.body FROM v JOIN w ON w.id = v.id"
    " CROSS JOIN jsonb_array_elements(v.pointers) WITH ORDINALITY AS e(body, k) ORDER BY v.n, e.k"
)
# Instances without a name get ``{definition}-{N}``: each definition's counter moves once by the number of
# them in the batch, and they take its numbers in batch order.
_CREATE_WORKFLOWS = (
    "WITH " + _INSTANCE_ROWS + ","
    " c AS (SELECT definition_id, count(*) AS k FROM v WHERE name IS NULL GROUP BY definition_id),"
    " q AS (INSERT INTO {definition_sequences} AS s (definition_id, next_num) SELECT definition_id, k FROM c"
    " ON CONFLICT (definition_id) DO UPDATE SET next_num = s.next_num + EXCLUDED.next_num"
    " RETURNING definition_id, next_num),"
    " r AS (SELECT n, row_number() OVER (PARTITION BY definition_id ORDER BY n) AS i FROM v WHERE name IS NULL),"
    " w AS (INSERT INTO {workflows} (" + _WORKFLOW_COLUMNS + ") SELECT v.id,"
    " COALESCE(v.name, v.definition_id || '-' || (q.next_num - c.k + r.i)), v.definition_id, v.version,"
    " v.description, v.reference, v.status, v.data, v.next_execution, v.create_time, v.complete_time,"
    " v.parent_workflow_id, v.root_workflow_id FROM v LEFT JOIN r ON r.n = v.n"
    " LEFT JOIN c ON c.definition_id = v.definition_id AND v.name IS NULL"
    " LEFT JOIN q ON q.definition_id = v.definition_id AND v.name IS NULL ORDER BY v.n RETURNING id, name),"
    " p AS (" + _POINTER_ROWS + ")"
    " SELECT id, name FROM w"
)
# The passes of many instances in one statement (group commit): one JSON array of rows, each the instance's
# fields, its fence, and its changed pointers and new subscriptions. Only rows whose fenced UPDATE matched get
# their pointers and subscriptions written; the ids of those rows come back.
_PERSIST_WORKFLOWS = (
    "WITH " + _INSTANCE_ROWS + ","
    " w AS (UPDATE {workflows} AS t SET definition_id = v.definition_id, version = v.version,"
    " description = v.description, reference = v.reference, status = v.status, data = v.data,"
    " next_execution = v.next_execution, complete_time = v.complete_time,"
    " parent_workflow_id = v.parent_workflow_id, root_workflow_id = v.root_workflow_id,"
    " fence = GREATEST(t.fence, COALESCE(v.fence, t.fence))"
    " FROM v WHERE t.id = v.id AND (v.fence IS NULL OR t.fence <= v.fence) RETURNING t.id),"
    " p AS (" + _POINTER_ROWS + " ON CONFLICT (workflow_id, id) DO UPDATE SET step_id = EXCLUDED.step_id,"
    " status = EXCLUDED.status, event_name = EXCLUDED.event_name, event_key = EXCLUDED.event_key,"
    " body = EXCLUDED.body),"
    " s AS (INSERT INTO {event_subscriptions} (" + _SUBSCRIPTION_COLUMNS + ") SELECT x.* FROM v"
    " JOIN w ON w.id = v.id CROSS JOIN jsonb_to_recordset(v.subscriptions) AS x(id text, workflow_id text,"
    " step_id int, execution_pointer_id text, event_name text, event_key text, subscribe_as_of timestamptz,"
    " subscription_data jsonb, external_token text, external_worker_id text, external_token_expiry timestamptz)"
    " ON CONFLICT (id) DO NOTHING)"
    " SELECT id FROM w"
)
_INSERT_EVENT_FROM_L = (
    "INSERT INTO {events} (" + _EVENT_COLUMNS + ") SELECT %s, %s, %s, %s, %s, %s FROM l"
    " ON CONFLICT (id) DO NOTHING"
)
_INSERT_EVENT = (
    "INSERT INTO {events} (" + _EVENT_COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO NOTHING"
)
_CLOSE_SUBSCRIPTION = (
    "UPDATE {event_subscriptions} SET terminated = TRUE, consumed_event_id = %s"
    " WHERE id = %s AND NOT terminated"
)
_INSERT_SUBSCRIPTION = (
    "INSERT INTO {event_subscriptions} (" + _SUBSCRIPTION_COLUMNS + ") VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)


_POINTER_LIST = TypeAdapter(list[ExecutionPointer])


def _json(value: Any) -> Jsonb:
    return Jsonb(to_jsonable_python(to_jsonable(value)))


class _Unset:
    """No value given (None means "no next execution")."""


_UNSET = _Unset()


def _event_lock(event_name: str, event_key: str) -> int:
    """The transaction lock id of an event name and key: ``create_event`` and a write storing a subscription
    on them take it, so one of them sees the other (a collision only makes two names wait for each other)."""
    digest = hashlib.blake2b(f"{event_name}\0{event_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class _RowWrite:
    """One instance's start or pass, serialised when it was asked for (the caller may change it after)."""

    workflow_id: str
    fence: int | None
    row: bytes
    """The JSON object of one row of ``_INSTANCE_ROWS``, without its batch position."""


def _row_write(
    instance: WorkflowInstance,
    pointers: Sequence[ExecutionPointer],
    subscriptions: Sequence[EventSubscription] = (),
    fence: int | None = None,
    *,
    workflow_id: str | None = None,
    next_execution: datetime | None | _Unset = _UNSET,
) -> _RowWrite:
    workflow_id = instance.id if workflow_id is None else workflow_id
    due = instance.next_execution if isinstance(next_execution, _Unset) else next_execution
    row = {
        "id": workflow_id,
        "name": instance.name or None,
        "create_time": utc(instance.create_time),
        "definition_id": instance.workflow_definition_id,
        "version": instance.version,
        "description": instance.description,
        "reference": instance.reference,
        "status": instance.status.value,
        "data": instance.data,
        "next_execution": utc_or_none(due),
        "complete_time": utc_or_none(instance.complete_time),
        "parent_workflow_id": instance.parent_workflow_id,
        "root_workflow_id": instance.root_workflow_id,
        "fence": fence,
        "pointers": list(pointers),
        "subscriptions": [_subscription_row(sub) for sub in subscriptions],
    }
    # pydantic-core serialises the models (data, pointers) and datetimes in one go
    return _RowWrite(workflow_id, fence, to_json(row))


def _subscription_row(sub: EventSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "workflow_id": sub.workflow_id,
        "step_id": sub.step_id,
        "execution_pointer_id": sub.execution_pointer_id,
        "event_name": sub.event_name,
        "event_key": sub.event_key,
        "subscribe_as_of": utc(sub.subscribe_as_of),
        "subscription_data": to_jsonable(sub.subscription_data),
        "external_token": sub.external_token,
        "external_worker_id": sub.external_worker_id,
        "external_token_expiry": utc_or_none(sub.external_token_expiry),
    }


def _rows_json(writes: Sequence[_RowWrite]) -> str:
    return "[" + ",".join(f'{{"n":{n},{w.row[1:].decode()}' for n, w in enumerate(writes)) + "]"


def _subscription_params(sub: EventSubscription) -> tuple[Any, ...]:
    return (
        sub.id,
        sub.workflow_id,
        sub.step_id,
        sub.execution_pointer_id,
        sub.event_name,
        sub.event_key,
        utc(sub.subscribe_as_of),
        _json(sub.subscription_data),
        sub.external_token,
        sub.external_worker_id,
        utc_or_none(sub.external_token_expiry),
    )


def _event_params(event: Event) -> tuple[Any, ...]:
    return (
        event.id,
        event.event_name,
        event.event_key,
        _json(event.event_data),
        utc(event.event_time),
        event.is_processed,
    )


def _instance(row: dict[str, Any], pointers: list[ExecutionPointer]) -> WorkflowInstance:
    return WorkflowInstance(
        id=row["id"],
        name=row["name"],
        workflow_definition_id=row["definition_id"],
        version=row["version"],
        description=row["description"],
        reference=row["reference"],
        status=WorkflowStatus(row["status"]),
        data=row["data"],
        next_execution=utc_or_none(row["next_execution"]),
        create_time=utc(row["create_time"]),
        complete_time=utc_or_none(row["complete_time"]),
        parent_workflow_id=row["parent_workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        execution_pointers=pointers,
    )


def _subscription(row: dict[str, Any]) -> EventSubscription:
    return EventSubscription(
        id=row["id"],
        workflow_id=row["workflow_id"],
        step_id=row["step_id"],
        execution_pointer_id=row["execution_pointer_id"],
        event_name=row["event_name"],
        event_key=row["event_key"],
        subscribe_as_of=utc(row["subscribe_as_of"]),
        subscription_data=row["subscription_data"],
        external_token=row["external_token"],
        external_worker_id=row["external_worker_id"],
        external_token_expiry=utc_or_none(row["external_token_expiry"]),
    )


def _event(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        event_name=row["event_name"],
        event_key=row["event_key"],
        event_data=row["event_data"],
        event_time=utc(row["event_time"]),
        is_processed=row["is_processed"],
    )


class PostgresPersistence(PostgresProvider):
    """Persistence on PostgreSQL for one or many hosts sharing a database.

    Pointers are rows of their own and a pass writes only those it changed, in one transaction sent in one
    pipeline. Build it with ``PostgresPersistence.from_url(url, schema=..., table_prefix=...)`` or
    ``from_pool(pool)``; call ``ensure_store_exists()`` (the host does) before use.
    """

    _error: ClassVar[type[ProviderError]] = PersistenceError

    async def ensure_store_exists(self) -> None:
        """Create or migrate the schema. Idempotent, and safe when several hosts call it at once."""
        await self._ensure_schema()

    async def close(self) -> None:
        """Release this provider's claim on the pool. Idempotent."""
        await self._pool.release()

    async def record_lock_family(self, family: str) -> str:
        """Record the lock family of this store's hosts unless one is recorded; return the recorded one."""
        with wrapped(PersistenceError, "record_lock_family"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q(
                        "INSERT INTO {store_settings} (key, value) VALUES ('lock_family', %s)"
                        " ON CONFLICT (key) DO NOTHING"
                    ),
                    (family,),
                )
                cur = await conn.execute(
                    self._layout.q("SELECT value FROM {store_settings} WHERE key = 'lock_family'")
                )
                row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    # -- workflows ---------------------------------------------------------------------------------------

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        """Store a new instance and its pointers atomically; assign its id and ``{definition}-{N}`` name.

        Starts asked for at the same time share one statement and one commit (group commit)."""
        write = _row_write(instance, instance.execution_pointers, workflow_id=instance.id or new_id())
        name = await self._creates.write(write, write.workflow_id)
        instance.id, instance.name = write.workflow_id, name
        return write.workflow_id

    @functools.cached_property
    def _creates(self) -> GroupCommit[_RowWrite, str]:
        return GroupCommit(self._create_batch)

    async def _create_batch(self, writes: Sequence[_RowWrite]) -> list[str | BaseException]:
        with wrapped(PersistenceError, "create_workflow"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(self._layout.q(_CREATE_WORKFLOWS), (_rows_json(writes),))
                names = {row[0]: row[1] for row in await cur.fetchall()}
        return [names[w.workflow_id] for w in writes]

    async def claim_workflow(self, workflow_id: str, fence: int) -> None:
        """A fenced ``UPDATE ... WHERE fence <= %s``: it waits behind an older holder's open transaction, so that
        write either lands first (and is read after the claim) or is refused once the claim committed.

        Claims asked for at the same time share one statement."""
        await self._claims.write((workflow_id, fence), workflow_id)

    @functools.cached_property
    def _claims(self) -> GroupCommit[tuple[str, int], None]:
        return GroupCommit(self._claim_batch)

    async def _claim_batch(self, claims: Sequence[tuple[str, int]]) -> list[BaseException | None]:
        with wrapped(PersistenceError, "claim_workflow"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {workflows} AS t SET fence = u.fence FROM unnest(%s::text[], %s::bigint[])"
                        " AS u(id, fence) WHERE t.id = u.id AND t.fence <= u.fence RETURNING t.id"
                    ),
                    ([c[0] for c in claims], [c[1] for c in claims]),
                )
                done = {row[0] for row in await cur.fetchall()}
                return await self._outcomes(conn, claims, done)

    async def _outcomes(
        self, conn: AsyncConnection[Any], fenced: Sequence[tuple[str, int | None]], done: set[str]
    ) -> list[BaseException | None]:
        """Each fenced write's outcome: None when its instance was among ``done``, otherwise why its fenced
        update matched no row (the instance does not exist, or a newer fence was stored)."""
        refused = [workflow_id for workflow_id, _ in fenced if workflow_id not in done]
        stored: dict[str, int] = {}
        if refused:
            cur = await conn.execute(
                self._layout.q("SELECT id, fence FROM {workflows} WHERE id = ANY(%s)"), (refused,)
            )
            stored = {row[0]: row[1] for row in await cur.fetchall()}
        outcomes: list[BaseException | None] = []
        for workflow_id, fence in fenced:
            if workflow_id in done:
                outcomes.append(None)
            elif workflow_id not in stored:
                outcomes.append(WorkflowNotFoundError(workflow_id))
            else:
                outcomes.append(
                    LeaseLostError(
                        workflow_id,
                        f"write with fence {fence} refused: the store already accepted fence {stored[workflow_id]}",
                    )
                )
        return outcomes

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
        """Write the instance, the given (or all) pointers and new subscriptions atomically, with the event
        deliveries they make (see the protocol).

        Passes of several instances asked for at the same time share one statement and one commit (group
        commit); each instance's write is still all or nothing. A ``fence`` older than the newest one stored
        raises ``LeaseLostError`` and writes nothing: the check and the write are one fenced ``UPDATE``. A write
        that delivers events (or may: new subscriptions) is a transaction of its own, which first takes a
        transaction lock on each new subscription's name and key (``create_event`` takes it too), so an event
        created meanwhile is either read here or finds the subscription stored.
        """
        if deliveries and now is None:
            raise ValueError("persist_workflow(deliveries=...) needs now=: the time the pointers wake at")
        if deliveries or events or (now is not None and subscriptions):
            return await self._persist_delivering(
                instance, pointers, subscriptions, deliveries, events, now, fence
            )
        written = instance.execution_pointers if pointers is None else pointers
        write = _row_write(instance, written, subscriptions, fence)
        await self._pass_writes.write(write, write.workflow_id)
        return []

    async def _persist_delivering(
        self,
        instance: WorkflowInstance,
        pointers: Sequence[ExecutionPointer] | None,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        events: Sequence[Event],
        now: datetime | None,
        fence: int | None,
    ) -> list[Delivery]:
        q = self._layout.q
        keys = {(s.event_name, s.event_key) for s in subscriptions} | {
            (e.event_name, e.event_key) for e in events
        }
        with wrapped(PersistenceError, "persist_workflow"):
            async with self._pool.connection() as conn, conn.transaction():
                for name, key in sorted(keys):  # always in one order: two writers never deadlock
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_event_lock(name, key),))
                outcomes = (
                    [] if now is None else await self._deliver(conn, instance, subscriptions, deliveries, now)
                )
                due = now if any(o.pointer is not None for o in outcomes) else instance.next_execution
                write = _row_write(
                    instance,
                    written_pointers(instance, pointers, outcomes),
                    subscriptions,
                    fence,
                    next_execution=due,
                )
                cur = await conn.execute(q(_PERSIST_WORKFLOWS), (_rows_json([write]),))
                done = {row[0] for row in await cur.fetchall()}
                (refused,) = await self._outcomes(conn, [(write.workflow_id, fence)], done)
                if refused is not None:
                    raise refused  # rolls the transaction back
                async with conn.cursor() as cur:
                    if outcomes:
                        await cur.executemany(
                            q(_CLOSE_SUBSCRIPTION),
                            [(o.consumed_event_id, o.subscription_id) for o in outcomes],
                        )
                    if events:
                        await cur.executemany(q(_INSERT_EVENT), [_event_params(e) for e in events])
        if now is not None:
            adopt(instance, outcomes, now)
        return delivered(outcomes)

    async def _deliver(
        self,
        conn: AsyncConnection[Any],
        instance: WorkflowInstance,
        subscriptions: Sequence[EventSubscription],
        deliveries: Sequence[Delivery],
        now: datetime,
    ) -> list[Applied]:
        """The deliveries applicable to ``instance`` and the events its new subscriptions take, read inside the
        writing transaction."""
        q = self._layout.q
        outcomes: list[Applied] = []
        consumed: dict[tuple[str, str], set[str]] = {}
        async with conn.cursor(row_factory=dict_row) as cur:

            async def consumed_on(subscription: EventSubscription) -> set[str]:
                key = (subscription.event_name, subscription.event_key)
                if key not in consumed:
                    await cur.execute(
                        q(
                            "SELECT consumed_event_id FROM {event_subscriptions} WHERE workflow_id = %s"
                            " AND event_name = %s AND event_key = %s AND consumed_event_id IS NOT NULL"
                        ),
                        (instance.id, *key),
                    )
                    consumed[key] = {r["consumed_event_id"] for r in await cur.fetchall()}
                return consumed[key]

            async def apply(subscription: EventSubscription, event: Event) -> None:
                outcome = apply_delivery(instance, subscription, event)
                outcomes.append(outcome)
                if outcome.pointer is not None:
                    (await consumed_on(subscription)).add(event.id)

            for delivery in deliveries:
                await cur.execute(
                    q(
                        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {{event_subscriptions}} WHERE id = %s AND NOT terminated"
                    ),
                    (delivery.subscription_id,),
                )
                row = await cur.fetchone()
                await cur.execute(
                    q("SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE id = %s"), (delivery.event_id,)
                )
                event_row = await cur.fetchone()
                if row is None or event_row is None:
                    continue
                subscription = _subscription(row)
                if subscription.workflow_id != instance.id or delivery.event_id in await consumed_on(
                    subscription
                ):
                    continue
                await apply(subscription, _event(event_row))
            for subscription in subscriptions:
                await cur.execute(
                    q(
                        "SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE event_name = %s AND event_key = %s"
                        " AND event_time >= %s AND event_time <= %s ORDER BY event_time, seq"
                    ),
                    (
                        subscription.event_name,
                        subscription.event_key,
                        utc(subscription.subscribe_as_of),
                        utc(now),
                    ),
                )
                candidates = [_event(r) for r in await cur.fetchall()]
                taken = first_taken(subscription, candidates, now, await consumed_on(subscription))
                if taken is not None:
                    await apply(subscription, taken)
        return outcomes

    @functools.cached_property
    def _pass_writes(self) -> GroupCommit[_RowWrite, None]:
        return GroupCommit(self._write_passes)

    async def _write_passes(self, writes: Sequence[_RowWrite]) -> list[BaseException | None]:
        with wrapped(PersistenceError, "persist_workflow"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(self._layout.q(_PERSIST_WORKFLOWS), (_rows_json(writes),))
                done = {row[0] for row in await cur.fetchall()}
                return await self._outcomes(conn, [(w.workflow_id, w.fence) for w in writes], done)

    async def _load(
        self, conn: AsyncConnection[Any], where: str, params: Sequence[Any], *, tail: str = ""
    ) -> list[WorkflowInstance]:
        """Instances matching ``where`` (with their pointers, in creation order), in the order of ``tail``.

        One query: each row brings its pointers as one JSON array, parsed and validated by pydantic-core in one
        go (much faster than building a dict per pointer in Python first; a pass loads the whole instance)."""
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                self._layout.q(
                    f"SELECT {_WORKFLOW_COLUMNS}, (SELECT json_agg(p.body ORDER BY p.seq)::text"
                    " FROM {execution_pointers} AS p WHERE p.workflow_id = w.id) AS bodies"
                    f" FROM {{workflows}} AS w WHERE {where} {tail}"
                ),
                params,
            )
            rows = await cur.fetchall()
        return [
            _instance(r, _POINTER_LIST.validate_json(r["bodies"]) if r["bodies"] is not None else [])
            for r in rows
        ]

    async def get_workflow(self, workflow_id: str) -> WorkflowInstance:
        """The instance with this id, or with this human name; ``WorkflowNotFoundError`` otherwise.

        Reads asked for at the same time share one query."""
        return await self._reads.write(workflow_id, workflow_id)

    @functools.cached_property
    def _reads(self) -> GroupCommit[str, WorkflowInstance]:
        return GroupCommit(self._read_batch)

    async def _read_batch(self, keys: Sequence[str]) -> list[WorkflowInstance | BaseException]:
        with wrapped(PersistenceError, "get_workflow"):
            async with self._pool.connection() as conn:
                found = await self._load(conn, "id = ANY(%s) OR name = ANY(%s)", (list(keys), list(keys)))
        by_id = {i.id: i for i in found}
        by_name = {i.name: i for i in found}
        outcomes: list[WorkflowInstance | BaseException] = []
        handed_out: set[str] = set()
        for key in keys:
            # an id wins over another instance's name that happens to equal it
            instance = by_id.get(key) or by_name.get(key)
            if instance is None:
                outcomes.append(WorkflowNotFoundError(key))
                continue
            # asked for by id and by name in one batch: each caller gets an instance of its own
            outcomes.append(instance.model_copy(deep=True) if instance.id in handed_out else instance)
            handed_out.add(instance.id)
        return outcomes

    async def get_workflows(self, workflow_ids: Sequence[str]) -> list[WorkflowInstance]:
        """The instances with these ids; unknown ids are silently dropped."""
        if not workflow_ids:
            return []
        with wrapped(PersistenceError, "get_workflows"):
            async with self._pool.connection() as conn:
                return await self._load(conn, "id = ANY(%s)", (list(workflow_ids),))

    async def get_runnable_instances(self, as_at: datetime) -> list[str]:
        """Ids of RUNNABLE instances whose ``next_execution`` is set and ``<= as_at``."""
        with wrapped(PersistenceError, "get_runnable_instances"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT id FROM {workflows} WHERE status = 'Runnable' AND next_execution IS NOT NULL"
                        " AND next_execution <= %s ORDER BY next_execution"
                    ),
                    (utc(as_at),),
                )
                return [r[0] for r in await cur.fetchall()]

    async def list_workflows(
        self,
        *,
        status: WorkflowStatus | None = None,
        definition_id: str | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        """Instances newest first (by create time), optionally filtered."""
        with wrapped(PersistenceError, "list_workflows"):
            async with self._pool.connection() as conn:
                return await self._load(
                    conn,
                    "(%s::text IS NULL OR status = %s) AND (%s::text IS NULL OR definition_id = %s)",
                    (
                        None if status is None else status.value,
                        None if status is None else status.value,
                        definition_id,
                        definition_id,
                        max(skip, 0),
                        max(take, 0),
                    ),
                    tail="ORDER BY create_time DESC, id OFFSET %s LIMIT %s",
                )

    async def purge_workflows(self, status: WorkflowStatus, older_than: datetime) -> int:
        """Delete instances with this status completed before ``older_than``, with everything they own."""
        with wrapped(PersistenceError, "purge_workflows"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "WITH w AS (DELETE FROM {workflows} WHERE status = %s AND"
                        " complete_time < %s RETURNING id),"
                        " e AS (DELETE FROM {execution_errors} WHERE workflow_id IN (SELECT id FROM w)),"
                        " s AS (DELETE FROM {event_subscriptions} WHERE workflow_id IN (SELECT id FROM w))"
                        " SELECT count(*) FROM w"
                    ),
                    (status.value, utc(older_than)),
                )
                row = await cur.fetchone()
                return int(row[0]) if row else 0

    # -- subscriptions ---------------------------------------------------------------------------------

    async def create_subscription(self, subscription: EventSubscription) -> str:
        """Store a subscription (keeping its id) and return the id."""
        with wrapped(PersistenceError, "create_subscription"):
            async with self._pool.connection() as conn:
                await conn.execute(self._layout.q(_INSERT_SUBSCRIPTION), _subscription_params(subscription))
        return subscription.id

    async def _subscriptions(
        self, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[EventSubscription]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                self._layout.q(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {{event_subscriptions}} WHERE {where} {tail}"
                ),
                params,
            )
            return [_subscription(r) for r in await cur.fetchall()]

    async def get_subscription(self, subscription_id: str) -> EventSubscription:
        """The subscription (open or terminated); ``SubscriptionNotFoundError`` when unknown."""
        with wrapped(PersistenceError, "get_subscription"):
            found = await self._subscriptions("id = %s", (subscription_id,))
        if not found:
            raise SubscriptionNotFoundError(subscription_id)
        return found[0]

    async def get_subscriptions(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> list[EventSubscription]:
        """Open subscriptions on name and key with ``subscribe_as_of <= as_of``, oldest first."""
        with wrapped(PersistenceError, "get_subscriptions"):
            return await self._subscriptions(
                "NOT terminated AND event_name = %s AND event_key = %s AND subscribe_as_of <= %s",
                (event_name, event_key, utc(as_of)),
                "ORDER BY subscribe_as_of, seq",
            )

    async def terminate_subscription(self, subscription_id: str, *, event_id: str | None = None) -> None:
        """Close the subscription, recording the event that satisfied it; closing it again keeps the first."""
        with wrapped(PersistenceError, "terminate_subscription"):
            async with self._pool.connection() as conn:
                await conn.execute(self._layout.q(_CLOSE_SUBSCRIPTION), (event_id, subscription_id))

    async def get_consumed_event_ids(self, workflow_id: str, event_name: str, event_key: str) -> set[str]:
        """Ids of events with this name and key already delivered to this instance."""
        with wrapped(PersistenceError, "get_consumed_event_ids"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT consumed_event_id FROM {event_subscriptions} WHERE workflow_id = %s"
                        " AND event_name = %s AND event_key = %s AND consumed_event_id IS NOT NULL"
                    ),
                    (workflow_id, event_name, event_key),
                )
                return {r[0] for r in await cur.fetchall()}

    async def get_first_open_subscription(
        self, event_name: str, event_key: str, as_of: datetime
    ) -> EventSubscription | None:
        """The oldest open subscription on name and key whose token is unset or expired at ``as_of``."""
        with wrapped(PersistenceError, "get_first_open_subscription"):
            found = await self._subscriptions(
                "NOT terminated AND event_name = %s AND event_key = %s AND subscribe_as_of <= %s"
                " AND (external_token IS NULL OR external_token_expiry <= %s)",
                (event_name, event_key, utc(as_of), utc(as_of)),
                "ORDER BY subscribe_as_of, seq LIMIT 1",
            )
        return found[0] if found else None

    async def set_subscription_token(
        self, subscription_id: str, token: str, worker_id: str, expiry: datetime, *, now: datetime
    ) -> bool:
        """Lease the subscription to a worker: compare-and-set in one UPDATE."""
        with wrapped(PersistenceError, "set_subscription_token"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {event_subscriptions} SET external_token = %s, external_worker_id = %s,"
                        " external_token_expiry = %s WHERE id = %s AND NOT terminated"
                        " AND (external_token IS NULL OR external_token_expiry <= %s)"
                    ),
                    (token, worker_id, utc(expiry), subscription_id, utc(now)),
                )
                return cur.rowcount == 1

    async def clear_subscription_token(self, subscription_id: str, token: str) -> None:
        """Drop the lease; ``SubscriptionNotFoundError`` when unknown or holding another token."""
        with wrapped(PersistenceError, "clear_subscription_token"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {event_subscriptions} SET external_token = NULL, external_worker_id = NULL,"
                        " external_token_expiry = NULL WHERE id = %s AND external_token = %s"
                    ),
                    (subscription_id, token),
                )
                cleared = cur.rowcount == 1
        if not cleared:
            raise SubscriptionNotFoundError(subscription_id, "unknown, or leased with another token")

    # -- events ------------------------------------------------------------------------------------------

    async def create_event(self, event: Event) -> str:
        """Store an event (keeping its id) and return the id."""
        with wrapped(PersistenceError, "create_event"):
            async with self._pool.connection() as conn:
                # The transaction lock on the name and key orders this insert with a write storing a
                # subscription on them (see persist_workflow); it is held until this statement commits.
                await conn.execute(
                    self._layout.q("WITH l AS (SELECT pg_advisory_xact_lock(%s)) " + _INSERT_EVENT_FROM_L),
                    (_event_lock(event.event_name, event.event_key), *_event_params(event)),
                )
        return event.id

    async def get_event(self, event_id: str) -> Event:
        """The event; ``EventNotFoundError`` when unknown."""
        with wrapped(PersistenceError, "get_event"):
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    self._layout.q("SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE id = %s"), (event_id,)
                )
                row = await cur.fetchone()
        if row is None:
            raise EventNotFoundError(event_id)
        return _event(row)

    async def _event_ids(self, action: str, where: str, params: Sequence[Any]) -> list[str]:
        with wrapped(PersistenceError, action):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(f"SELECT id FROM {{events}} WHERE {where} ORDER BY event_time, seq"),
                    params,
                )
                return [r[0] for r in await cur.fetchall()]

    async def get_runnable_events(self, as_at: datetime) -> list[str]:
        """Ids of unprocessed events with ``event_time <= as_at``, oldest first."""
        return await self._event_ids(
            "get_runnable_events", "NOT is_processed AND event_time <= %s", (utc(as_at),)
        )

    async def get_events(self, event_name: str, event_key: str, as_of: datetime) -> list[str]:
        """Ids of events on name and key with ``event_time >= as_of``, processed or not, oldest first."""
        return await self._event_ids(
            "get_events",
            "event_name = %s AND event_key = %s AND event_time >= %s",
            (event_name, event_key, utc(as_of)),
        )

    async def _set_processed(self, event_id: str, processed: bool) -> None:
        with wrapped(PersistenceError, "marking an event"):
            async with self._pool.connection() as conn:
                await conn.execute(
                    self._layout.q("UPDATE {events} SET is_processed = %s WHERE id = %s"),
                    (processed, event_id),
                )

    async def mark_event_processed(self, event_id: str) -> None:
        """Set ``is_processed``. Idempotent."""
        await self._set_processed(event_id, True)

    async def mark_event_unprocessed(self, event_id: str) -> None:
        """Clear ``is_processed``. Idempotent."""
        await self._set_processed(event_id, False)

    async def purge_events(self, older_than: datetime) -> int:
        """Delete processed events with ``event_time < older_than``; return how many."""
        with wrapped(PersistenceError, "purge_events"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q("DELETE FROM {events} WHERE is_processed AND event_time < %s"),
                    (utc(older_than),),
                )
                return cur.rowcount

    # -- errors --------------------------------------------------------------------------------------------

    async def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        """Append execution errors (one pipelined batch)."""
        if not errors:
            return
        with wrapped(PersistenceError, "persist_errors"):
            async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    self._layout.q(
                        "INSERT INTO {execution_errors} (workflow_id,"
                        " execution_pointer_id, error_time, message)"
                        " VALUES (%s, %s, %s, %s)"
                    ),
                    [(e.workflow_id, e.execution_pointer_id, utc(e.error_time), e.message) for e in errors],
                )

    async def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        """The instance's errors, oldest first."""
        with wrapped(PersistenceError, "get_errors"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT workflow_id, execution_pointer_id, error_time, message"
                        " FROM {execution_errors}"
                        " WHERE workflow_id = %s ORDER BY error_time, seq"
                    ),
                    (workflow_id,),
                )
                rows = await cur.fetchall()
        return [
            ExecutionError(workflow_id=r[0], execution_pointer_id=r[1], error_time=utc(r[2]), message=r[3])
            for r in rows
        ]

    # -- scheduled commands ----------------------------------------------------------------------------

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
