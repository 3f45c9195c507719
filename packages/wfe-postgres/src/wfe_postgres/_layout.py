"""Where wfe's tables live: the validated schema name, table prefix and every qualified identifier."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from psycopg import sql

from wfe_core.errors import ConfigurationError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated

TABLES = (
    "schema_migrations",
    "workflows",
    "execution_pointers",
    "events",
    "event_subscriptions",
    "execution_errors",
    "scheduled_commands",
    "definition_sequences",
    "queue",
    "locks",
    "lock_fences",
    "store_settings",
    "schedules",
    "queue_slots",
    "queue_waiters",
    "queue_starts",
)
"""Every table (and sequence) wfe creates, unprefixed."""

INDEXES = (
    "workflows_runnable_idx",
    "workflows_due_idx",
    "workflows_definition_idx",
    "workflows_status_idx",
    "execution_pointers_order_idx",
    "events_name_key_time_idx",
    "events_unprocessed_idx",
    "event_subscriptions_open_idx",
    "event_subscriptions_workflow_idx",
    "execution_errors_workflow_idx",
    "queue_waiting_uq",
    "queue_order_idx",
    "queue_receipt_idx",
    "queue_starts_idx",
)
"""Every index wfe creates, unprefixed (index names share the schema's namespace with tables)."""


def validate_identifier(value: str, *, what: str, allow_empty: bool = False) -> str:
    """Return ``value`` when it is a plain SQL identifier; raise ``ConfigurationError`` naming the rule otherwise."""
    if allow_empty and value == "":
        return value
    if not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(
            f"invalid {what} {value!r}: use letters, digits and underscores, not starting with a digit "
            "(pattern [A-Za-z_][A-Za-z0-9_]*)"
        )
    if len(value.encode()) > _MAX_IDENTIFIER_BYTES:
        raise ConfigurationError(f"invalid {what} {value!r}: at most {_MAX_IDENTIFIER_BYTES} bytes")
    return value


@dataclass(frozen=True)
class Layout:
    """The schema and table prefix one set of providers works in; builds schema-qualified identifiers.

    Every statement names its tables through this object, so wfe never needs (or sets) ``search_path`` on a
    connection it shares with the application.
    """

    schema: str = "wfe"
    table_prefix: str = ""

    def __post_init__(self) -> None:
        validate_identifier(self.schema, what="schema name")
        validate_identifier(self.table_prefix, what="table prefix", allow_empty=True)
        longest = max((*TABLES, *INDEXES), key=len)
        if len((self.table_prefix + longest).encode()) > _MAX_IDENTIFIER_BYTES:
            room = _MAX_IDENTIFIER_BYTES - len(longest)
            raise ConfigurationError(
                f"table prefix {self.table_prefix!r} is too long: with it, {longest!r} exceeds "
                f"{_MAX_IDENTIFIER_BYTES} bytes; use at most {room} bytes"
            )

    def name(self, table: str) -> str:
        """The prefixed, unqualified name of ``table``."""
        return self.table_prefix + table

    def table(self, table: str) -> sql.Identifier:
        """``schema.prefix+table`` as a quoted identifier."""
        return sql.Identifier(self.schema, self.table_prefix + table)

    def index(self, index: str) -> sql.Identifier:
        """The prefixed index name (unqualified: an index is created in its table's schema)."""
        return sql.Identifier(self.table_prefix + index)

    def identifiers(self) -> dict[str, sql.Composable]:
        """Every table and index identifier, keyed by unprefixed name, for ``sql.SQL.format``."""
        ids: dict[str, sql.Composable] = {t: self.table(t) for t in TABLES}
        ids.update({i: self.index(i) for i in INDEXES})
        ids["schema"] = sql.Identifier(self.schema)
        return ids

    def q(self, template: str) -> bytes:
        """``template`` with ``{table}`` placeholders replaced by qualified identifiers, rendered (cached).

        Rendered bytes rather than a ``sql.Composed``: psycopg renders a Composed again on every execute, but
        caches its parsing of a bytes query."""
        return _compose(self, template)

    @property
    def migration_lock_key(self) -> int:
        """A stable 64-bit advisory-lock key for migrating this schema and prefix."""
        digest = hashlib.blake2b(f"wfe-migrate:{self.schema}:{self.table_prefix}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    def channel(self, queue: str) -> str:
        """The LISTEN/NOTIFY channel of one queue (a valid identifier of at most 63 bytes)."""
        plain = f"wfe_{self.schema}_{self.table_prefix}{queue}"
        if len(plain.encode()) <= _MAX_IDENTIFIER_BYTES:
            return plain
        digest = hashlib.blake2b(plain.encode(), digest_size=8).hexdigest()
        return f"wfe_{digest}_{queue}"


@functools.lru_cache(maxsize=512)
def _compose(layout: Layout, template: str) -> bytes:
    # Statements are composed once per layout, not on every call of a hot path.
    return sql.SQL(template).format(**layout.identifiers()).as_bytes(None)
