"""The SQL texts of ``SqlitePersistence`` kept apart from the code."""

import functools

from wfe_sqlite._nulls import NullsInlined
from wfe_sqlite._rows import EVENT_COLUMNS, SUBSCRIPTION_COLUMNS, WORKFLOW_COLUMNS

# The statements that write instances run with their None values as NULL in the text (see _nulls).
_INSERT_WORKFLOW = NullsInlined(
    f"INSERT INTO workflows ({WORKFLOW_COLUMNS}, fence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, NULL)"
)
_UPSERT_ROWS = 50
"""Pointer rows per upsert statement at most."""


@functools.cache
def _upsert_pointers(count: int) -> str:
    """The upsert of ``count`` pointer rows (workflow_id, id, ordinal, status, body) in one statement.

    One statement rather than a statement per row: the worker thread lets go of the GIL around every statement
    it runs and waits to get it back from the event loop's thread, which costs more than the statement."""
    return (
        "INSERT INTO execution_pointers (workflow_id, id, ordinal, status, body) VALUES "
        + ",".join(["(?,?,?,?,?)"] * count)
        + " ON CONFLICT (workflow_id, id) DO UPDATE SET ordinal = excluded.ordinal, status = excluded.status, "
        "body = excluded.body"
    )


# A pass's write in the common case: the columns a pass may change, and only those, with the fence check and
# the columns no pass changes in the WHERE clause. SQLite rewrites the entries of every index over a column
# named in SET, changed or not, so naming the name, definition and creation time would write their index pages
# on every pass. When this matches no row (one of those columns changed, or the fence is older, or the instance
# is gone), _UPDATE_WORKFLOW writes every column.
_UPDATE_PASS = NullsInlined(
    "UPDATE workflows SET description = ?, reference = ?, status = ?, data = ?, next_execution = ?, "
    "complete_time = ?, queue = ?, priority = ?, fence = coalesce(?, fence) "
    "WHERE id = ? AND (? IS NULL OR fence IS NULL OR fence <= ?) AND definition_id = ? AND version = ? "
    "AND create_time = ? AND (? = '' OR name = ?) "
    "AND parent_workflow_id IS ? AND root_workflow_id IS ? AND forked_from IS ?"
)
# One statement checks the fence and writes: the common path costs no extra read.
_UPDATE_WORKFLOW = NullsInlined(
    "UPDATE workflows SET name = coalesce(nullif(?, ''), name), definition_id = ?, version = ?, "
    "description = ?, reference = ?, status = ?, data = ?, next_execution = ?, create_time = ?, "
    "complete_time = ?, parent_workflow_id = ?, root_workflow_id = ?, forked_from = ?, queue = ?, priority = ?, fence = coalesce(?, fence) "
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
_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
