"""Instance writes of ``PostgresPersistence``: starts, claims and passes, each a group commit."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import errors as pg_errors

from wfe_core.delivery import check_delivery_time
from wfe_core.errors import PersistenceError, WorkflowNameTakenError
from wfe_core.models import Delivery, Event, EventSubscription, ExecutionPointer, WorkflowInstance, new_id
from wfe_core.write_guard import WriteGuard, still_held, write_guard
from wfe_postgres._arrays import number_array, text_array
from wfe_postgres._delivery import _DeliveringWrites
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._rows import _row_write, _rows_json, _RowWrite
from wfe_postgres._sql import (
    _CREATE_WORKFLOW_ONCE,
    _CREATE_WORKFLOWS,
    _PERSIST_WORKFLOWS,
    _PERSIST_WORKFLOWS_RELEASING,
)


class _InstanceWrites(_DeliveringWrites):
    """The part of ``PostgresPersistence`` that writes instances."""

    async def create_workflow(self, instance: WorkflowInstance) -> str:
        """Store a new instance and its pointers atomically; assign its id and ``{definition}-{N}`` name.

        Starts asked for at the same time share one statement and one commit (group commit)."""
        write = _row_write(instance, instance.execution_pointers, workflow_id=instance.id or new_id())
        name = await self._creates.write(write, write.workflow_id)
        instance.id, instance.name = write.workflow_id, name
        return write.workflow_id

    async def create_workflow_once(self, instance: WorkflowInstance) -> bool:
        """Store the instance unless its id exists: ``INSERT ... ON CONFLICT (id) DO NOTHING``, so of concurrent
        starts of one id (from any host) exactly one inserts; the others wait for it and insert nothing."""
        if not instance.id:
            raise ValueError(
                "create_workflow_once needs instance.id: set the id that makes the start idempotent"
            )
        write = _row_write(instance, instance.execution_pointers)
        try:
            with wrapped(PersistenceError, "create_workflow_once"):
                async with self._pool.connection() as conn:
                    cur = await conn.execute(self._layout.q(_CREATE_WORKFLOW_ONCE), (_rows_json([write]),))
                    row = await cur.fetchone()
        except PersistenceError as exc:
            if not isinstance(exc.__cause__, pg_errors.UniqueViolation) or not instance.name:
                raise
            return await self._name_taken(instance)
        if row is None:
            return False
        instance.name = row[1]
        return True

    async def _name_taken(self, instance: WorkflowInstance) -> bool:
        """After a unique violation on the name: False when the id was stored meanwhile (a concurrent start of
        the same id and name), else ``WorkflowNameTakenError`` naming the instance that has the name."""
        with wrapped(PersistenceError, "create_workflow_once"):
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT id FROM {workflows} WHERE id = %s OR name = %s ORDER BY id = %s DESC"
                    ),
                    (instance.id, instance.name, instance.id),
                )
                row = await cur.fetchone()
        if row is None:
            raise PersistenceError(
                f"workflow name '{instance.name}' clashed, but no instance has it now: retry"
            )
        if row[0] == instance.id:
            return False
        raise WorkflowNameTakenError(instance.name, row[0])

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

        Claims asked for at the same time share one statement. The caller's lease check (``guarded_writes``)
        runs again as the claim is sent: a claim held back while its host was frozen past the lease is refused."""
        await self._claims.write(_Claim(workflow_id, fence, write_guard()), workflow_id)

    @functools.cached_property
    def _claims(self) -> GroupCommit[_Claim, None]:
        return GroupCommit(self._claim_batch)

    async def _claim_batch(self, claims: Sequence[_Claim]) -> list[BaseException | None]:
        with wrapped(PersistenceError, "claim_workflow"):
            async with self._pool.connection() as conn:
                # checked with the connection in hand, just before sending
                refusals = [still_held(c.guard) for c in claims]
                live = [c for c, refused in zip(claims, refusals, strict=True) if refused is None]
                if not live:
                    return refusals
                cur = await conn.execute(
                    self._layout.q(
                        "UPDATE {workflows} AS t SET fence = u.fence FROM unnest(%s::text[], %s::bigint[])"
                        " AS u(id, fence) WHERE t.id = u.id AND t.fence <= u.fence RETURNING t.id"
                    ),
                    (text_array([c.workflow_id for c in live]), number_array([c.fence for c in live])),
                )
                done = {row[0] for row in await cur.fetchall()}
                outcomes = await self._outcomes(conn, [(c.workflow_id, c.fence) for c in live], done)
                return _merged(refusals, outcomes)

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
        check_delivery_time(deliveries, now)
        if deliveries or events or (now is not None and subscriptions):
            return await self._persist_delivering(
                instance, pointers, subscriptions, deliveries, events, now, fence
            )
        written = instance.execution_pointers if pointers is None else pointers
        write = _row_write(instance, written, subscriptions, fence)
        await self._pass_writes.write(write, write.workflow_id)
        return []

    @functools.cached_property
    def _pass_writes(self) -> GroupCommit[_RowWrite, None]:
        return GroupCommit(self._write_passes)

    async def _write_passes(self, writes: Sequence[_RowWrite]) -> list[BaseException | None]:
        with wrapped(PersistenceError, "persist_workflow"):
            async with self._pool.connection() as conn:
                # checked with the connection in hand, just before sending: a pass held back behind a batch in
                # flight while its host was frozen past the lease is refused, not written once it thaws
                refusals = [still_held(w.guard) for w in writes]
                live = [w for w, refused in zip(writes, refusals, strict=True) if refused is None]
                if not live:
                    return refusals
                releases = [w for w in live if w.release is not None]
                if releases:
                    # the leases of passes that end their runs, released with them (only where the fenced
                    # update matched: a refused pass releases nothing)
                    cur = await conn.execute(
                        self._layout.q(_PERSIST_WORKFLOWS_RELEASING),
                        (
                            _rows_json(live),
                            text_array([w.workflow_id for w in releases]),
                            text_array([w.release for w in releases if w.release is not None]),
                        ),
                    )
                else:
                    cur = await conn.execute(self._layout.q(_PERSIST_WORKFLOWS), (_rows_json(live),))
                done = {row[0] for row in await cur.fetchall()}
                outcomes = await self._outcomes(conn, [(w.workflow_id, w.fence) for w in live], done)
                return _merged(refusals, outcomes)


@dataclass(frozen=True)
class _Claim:
    workflow_id: str
    fence: int
    guard: WriteGuard | None = field(default=None, compare=False)
    """The caller's lease check, run again just before the claim is sent."""


def _merged(
    refusals: Sequence[BaseException | None], outcomes: Sequence[BaseException | None]
) -> list[BaseException | None]:
    """The outcome of each item of a batch: its refusal by its guard, else the outcome of its write (``outcomes``
    holds one per item not refused, in order)."""
    written = iter(outcomes)
    return [next(written) if refused is None else refused for refused in refusals]
