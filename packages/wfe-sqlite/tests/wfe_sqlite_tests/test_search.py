"""SQLite-specific search behaviour: the FTS5 index follows re-indexing, and lives beside the other tables."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from wfe_core.models import WorkflowInstance
from wfe_sqlite import SqlitePersistence, SqliteSearchIndex


def instance(description: str) -> WorkflowInstance:
    return WorkflowInstance(
        workflow_definition_id="search", version=1, description=description, create_time=datetime.now(UTC)
    )


async def test_reindexing_replaces_the_searchable_text(tmp_path: Path) -> None:
    index = SqliteSearchIndex.from_url(f"sqlite:///{tmp_path / 'wfe.db'}")
    await index.start()
    document = instance("alpha release")
    document.id = "w-1"
    await index.index_workflow(document)
    assert [r.id for r in (await index.search("alpha")).data] == ["w-1"]
    document.description = "beta release"
    await index.index_workflow(document)
    assert (await index.search("alpha")).total == 0
    assert [r.id for r in (await index.search("beta release")).data] == ["w-1"]
    await index.stop()


async def test_terms_are_looked_up_through_the_fts5_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfe.db'}"
    index = SqliteSearchIndex.from_url(url)
    await index.start()
    for n in range(200):
        document = instance(f"order number{n} for_customer")
        document.id = f"w-{n}"
        await index.index_workflow(document)
    page = await index.search("number150 for_customer")
    assert [r.id for r in page.data] == ["w-150"]

    def plan(conn: sqlite3.Connection) -> str:
        rows = conn.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM search_text WHERE search_text MATCH ?", ('"number150"',)
        ).fetchall()
        return " ".join(str(row[-1]) for row in rows)

    assert "VIRTUAL TABLE INDEX" in await index.database.run(plan, write=False)
    # The index shares the file, and the connection, with the other providers on the URL.
    persistence = SqlitePersistence.from_url(url)
    assert persistence.database is index.database
    await persistence.close()
    await index.stop()
