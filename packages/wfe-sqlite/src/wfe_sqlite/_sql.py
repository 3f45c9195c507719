"""The SQL texts of ``SqlitePersistence`` kept apart from the code."""

from wfe_sqlite._rows import EVENT_COLUMNS, SUBSCRIPTION_COLUMNS, WORKFLOW_COLUMNS

_INSERT_WORKFLOW = (
    f"INSERT INTO workflows ({WORKFLOW_COLUMNS}, fence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, NULL)"
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
_NEXT_EXECUTION = 7  # position of next_execution in the UPDATE's values (WORKFLOW_COLUMNS without the id)
_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
