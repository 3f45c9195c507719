"""Instance reads and purges of ``PostgresPersistence``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from wfe_core.errors import PersistenceError, WorkflowNotFoundError
from wfe_core.models import WorkflowInstance, WorkflowStatus
from wfe_postgres._arrays import text_array
from wfe_postgres._failures import wrapped
from wfe_postgres._group_commit import GroupCommit
from wfe_postgres._provider import PostgresProvider, utc
from wfe_postgres._rows import _POINTER_LIST, _instance
from wfe_postgres._sql import _WORKFLOW_COLUMNS


class _InstanceReads(PostgresProvider):
    """The part of ``PostgresPersistence`` that reads and purges instances."""

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
                keys_array = text_array(keys)
                found = await self._load(
                    conn, "id = ANY(%s::text[]) OR name = ANY(%s::text[])", (keys_array, keys_array)
                )
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
                return await self._load(conn, "id = ANY(%s::text[])", (text_array(workflow_ids),))

    async def get_runnable_instances(self, as_at: datetime) -> list[str]:
        """Ids of RUNNABLE instances whose ``next_execution`` is set and ``<= as_at``."""
        with wrapped(PersistenceError, "get_runnable_instances"):
            async with self._pool.connection() as conn:
                # due_second (next_execution to the second, in UTC) is what the index holds
                at = utc(as_at)
                cur = await conn.execute(
                    self._layout.q(
                        "SELECT id FROM {workflows} WHERE status = 'Runnable' AND due_second IS NOT NULL"
                        " AND due_second <= (%s::timestamptz AT TIME ZONE 'UTC') AND next_execution <= %s"
                        " ORDER BY next_execution"
                    ),
                    (at, at),
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
