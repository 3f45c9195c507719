"""SqliteSearchIndex: the SearchIndex on SQLite, with an FTS5 index over the searchable text."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wfe_core.errors import SearchError
from wfe_core.models import (
    DataFilter,
    DateRangeFilter,
    DefinitionFilter,
    Page,
    ReferenceFilter,
    SearchFilter,
    StatusFilter,
    WorkflowInstance,
    WorkflowSearchResult,
    raw_tokens,
    search_terms,
    search_words,
    searchable_texts,
)
from wfe_sqlite._codec import dump_json, to_micros, to_micros_opt
from wfe_sqlite._database import SqliteDatabase
from wfe_sqlite._handle import DatabaseHandle
from wfe_sqlite._url import parse_sqlite_url


@dataclass(frozen=True, slots=True)
class _Term:
    """One whitespace-separated search term: its words as an FTS5 phrase, or a literal token."""

    raw: str
    words: tuple[str, ...]

    @property
    def phrase(self) -> str:
        # Words hold only \w characters, so quoting them can never produce FTS5 query syntax.
        return '"' + " ".join(self.words) + '"'

    @property
    def line(self) -> str:
        return " " + " ".join(self.words) + " "


class SqliteSearchIndex:
    """Searches instances with SQLite: an FTS5 index finds candidates for the terms, plain columns and JSON
    functions apply the filters, and SQL orders and pages the result.

    Terms match whole words, or consecutive words of one text (``etl-pipeline``), of the reference,
    description, definition id and the strings in the data, case-insensitively. They are data, never FTS5
    syntax: each term becomes a quoted phrase of its words, and a term with no word characters (``*``) only
    matches that exact whitespace-separated token. ``DataFilter`` paths are dotted; a numeric part indexes an
    array.
    """

    def __init__(self, database: SqliteDatabase, *, retained: bool = False) -> None:
        if not retained:
            database.retain()
        self._handle = DatabaseHandle(database, SearchError, retained=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqliteSearchIndex:
        """Open the index on a ``sqlite:`` URL (see ``SqlitePersistence.from_url``); it lives in the same file
        (and, on one URL, the same connection) as the other SQLite providers."""
        path, sqlite_options, _ = parse_sqlite_url(url, **options)
        return cls(SqliteDatabase.shared(path, sqlite_options), retained=True)

    @property
    def database(self) -> SqliteDatabase:
        return self._handle.database

    async def start(self) -> None:
        self._handle.open()
        await self._handle.migrate()

    async def stop(self) -> None:
        await self._handle.close()

    async def index_workflow(self, instance: WorkflowInstance) -> None:
        row, body = _document(instance)

        def index(conn: sqlite3.Connection) -> None:
            found = conn.execute(
                "SELECT rowid FROM search_documents WHERE workflow_id = ?", (row[0],)
            ).fetchone()
            if found is None:
                cursor = conn.execute(
                    "INSERT INTO search_documents (workflow_id, definition_id, version, status, reference, data, "
                    "data_type, create_time, complete_time, words, reference_words, raw_tokens, result) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                conn.execute("INSERT INTO search_text (rowid, body) VALUES (?, ?)", (cursor.lastrowid, body))
                return
            conn.execute(
                "UPDATE search_documents SET definition_id = ?, version = ?, status = ?, reference = ?, data = ?, "
                "data_type = ?, create_time = ?, complete_time = ?, words = ?, reference_words = ?, "
                "raw_tokens = ?, result = ? WHERE rowid = ?",
                (*row[1:], found[0]),
            )
            conn.execute("UPDATE search_text SET body = ? WHERE rowid = ?", (body, found[0]))

        await self._handle.run(index, write=True, action="index workflow")

    async def search(
        self, terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        parsed = [_Term(raw, tuple(search_words(raw))) for raw in search_terms(terms.lower())]
        clauses: list[str] = []
        params: list[Any] = []
        for term in parsed:
            if term.words:
                # FTS5 narrows to documents holding the words; the line check then asks for them consecutively
                # within one text, exactly as the in-memory index does.
                clauses.append(
                    "d.rowid IN (SELECT rowid FROM search_text WHERE search_text MATCH ?) AND instr(d.words, ?) > 0"
                )
                params += [term.phrase, term.line]
            else:
                clauses.append("instr(d.raw_tokens, ?) > 0")
                params.append(f"\n{term.raw}\n")
        for search_filter in filters:
            clause, values = _filter_clause(search_filter)
            clauses.append(clause)
            params += values
        where = " AND ".join(f"({c})" for c in clauses) or "1"
        phrases = [term.line for term in parsed if term.words]
        hit = " OR ".join("instr(d.reference_words, ?) > 0" for _ in phrases)
        order = f"({hit}) DESC, " if hit else ""
        first, count = max(0, skip), max(0, take)

        def run(conn: sqlite3.Connection) -> tuple[int, list[str]]:
            (total,) = conn.execute(
                f"SELECT count(*) FROM search_documents d WHERE {where}", params
            ).fetchone()
            rows = conn.execute(
                f"SELECT d.result FROM search_documents d WHERE {where} "
                f"ORDER BY {order}d.create_time DESC, d.workflow_id LIMIT ? OFFSET ?",
                [*params, *phrases, count, first],
            ).fetchall()
            return int(total), [r[0] for r in rows]

        total, results = await self._handle.run(run, write=False, action="search")
        return Page[WorkflowSearchResult](
            data=[WorkflowSearchResult.model_validate_json(r) for r in results], total=total
        )


def _document(instance: WorkflowInstance) -> tuple[tuple[Any, ...], str]:
    """The ``search_documents`` row and the FTS5 body for ``instance``."""
    result = WorkflowSearchResult.from_instance(instance)
    data = result.data
    texts = searchable_texts(instance, data)
    lines = [" " + " ".join(search_words(text)) + " " for text in texts]
    tokens = raw_tokens(texts)
    row = (
        instance.id,
        instance.workflow_definition_id,
        instance.version,
        str(instance.status.value),
        instance.reference,
        dump_json(data),
        result.data_type,
        to_micros(instance.create_time),
        to_micros_opt(instance.complete_time),
        "\n".join(lines),
        lines[0],
        "\n" + "\n".join(sorted(tokens)) + "\n",
        result.model_dump_json(),
    )
    return row, "\n".join(texts)


def _filter_clause(search_filter: SearchFilter) -> tuple[str, list[Any]]:
    if isinstance(search_filter, StatusFilter):
        return "d.status = ?", [str(search_filter.status.value)]
    if isinstance(search_filter, ReferenceFilter):
        return "d.reference = ?", [search_filter.reference]
    if isinstance(search_filter, DefinitionFilter):
        if search_filter.version is None:
            return "d.definition_id = ?", [search_filter.definition_id]
        return "d.definition_id = ? AND d.version = ?", [search_filter.definition_id, search_filter.version]
    if isinstance(search_filter, DateRangeFilter):
        column = "d.create_time" if search_filter.field == "create_time" else "d.complete_time"
        parts, values = [f"{column} IS NOT NULL"], []
        if search_filter.after is not None:
            parts.append(f"{column} >= ?")
            values.append(to_micros(search_filter.after))
        if search_filter.before is not None:
            parts.append(f"{column} < ?")
            values.append(to_micros(search_filter.before))
        return " AND ".join(parts), values
    return _data_clause(search_filter)


def _json_path(path: str) -> str | None:
    parts = path.split(".")
    if any(not part or '"' in part for part in parts):
        return None
    return "$" + "".join(f"[{part}]" if part.isdigit() else f'."{part}"' for part in parts)


def _data_clause(search_filter: DataFilter) -> tuple[str, list[Any]]:
    """SQL for equality / ranges on a data field, type-exact: 7 matches 7 and 7.0, never "7" or true."""
    json_path = _json_path(search_filter.path)
    if json_path is None:
        return "0", []
    parts: list[str] = ["json_type(d.data, ?) IS NOT NULL"]
    values: list[Any] = [json_path]
    if search_filter.data_type is not None:
        parts.append("d.data_type = ?")
        values.append(search_filter.data_type)
    comparisons: list[tuple[Any, str]] = []
    if "equals" in search_filter.model_fields_set:
        comparisons.append((search_filter.equals, "="))
    comparisons += [
        (bound, op)
        for bound, op in (
            (search_filter.gt, ">"),
            (search_filter.gte, ">="),
            (search_filter.lt, "<"),
            (search_filter.lte, "<="),
        )
        if bound is not None
    ]
    for bound, op in comparisons:
        clause, clause_values = _comparison(json_path, bound, op)
        parts.append(clause)
        values += clause_values
    return " AND ".join(parts), values


def _comparison(json_path: str, bound: Any, op: str) -> tuple[str, list[Any]]:
    kind, value = "json_type(d.data, ?)", "json_extract(d.data, ?)"
    if bound is None:
        return f"{kind} = 'null'", [json_path]
    if isinstance(bound, bool):
        return f"{kind} IN ('true', 'false') AND ({kind} = 'true') {op} ?", [json_path, json_path, int(bound)]
    if isinstance(bound, int | float):
        return f"{kind} IN ('integer', 'real') AND {value} {op} ?", [json_path, json_path, bound]
    if isinstance(bound, datetime):
        moment = bound if bound.tzinfo is not None else bound.replace(tzinfo=UTC)
        # JSON data holds datetimes as ISO text; julianday compares them as instants whatever their offset.
        return (
            f"{kind} = 'text' AND julianday({value}) {op} julianday(?)",
            [json_path, json_path, moment.isoformat()],
        )
    if isinstance(bound, str):
        return f"{kind} = 'text' AND {value} {op} ?", [json_path, json_path, bound]
    return f"{kind} IN ('object', 'array') AND json({value}) {op} json(?)", [
        json_path,
        json_path,
        dump_json(bound),
    ]
