"""The SQL texts of ``PostgresPersistence`` kept apart from the code: columns, the group-commit
statements of instance writes, event and subscription rows."""

_WORKFLOW_COLUMNS = (
    "id, name, definition_id, version, description, reference, status, data, next_execution, create_time,"
    " complete_time, parent_workflow_id, root_workflow_id, forked_from, queue, priority"
)
_SUBSCRIPTION_COLUMNS = (
    "id, workflow_id, step_id, execution_pointer_id, event_name, event_key,"
    " subscribe_as_of, subscription_data,"
    " external_token, external_worker_id, external_token_expiry"
)
_EVENT_COLUMNS = "id, event_name, event_key, event_data, event_time, is_processed"

_EVENT_PREFIX = "event_row_"
"""The event's columns in ``_SELECT_DELIVERY``, apart from the subscription's."""
_SELECT_DELIVERY = (
    "SELECT "
    + ", ".join(f"s.{c}" for c in _SUBSCRIPTION_COLUMNS.split(", "))
    + ", "
    + ", ".join(f"e.{c} AS {_EVENT_PREFIX}{c}" for c in _EVENT_COLUMNS.split(", "))
    + ", ARRAY(SELECT c.consumed_event_id FROM {event_subscriptions} c WHERE c.workflow_id = %s"
    " AND c.event_name = s.event_name AND c.event_key = s.event_key AND c.consumed_event_id IS NOT NULL)"
    " AS consumed FROM {event_subscriptions} s JOIN {events} e ON e.id = %s WHERE s.id = %s AND NOT s.terminated"
)
"""A delivery's open subscription, its event and the events the instance consumed already on that name and key,
in one round trip (no row: the subscription was closed, or either is unknown)."""

# Writes are group commits: the starts (or passes) of many instances asked for at the same time go in one
# statement of data-modifying CTEs, one round trip and one commit, each instance's rows all or nothing. The
# instances travel as one JSON array of rows, each with its pointers as a JSON array; pointer rows are
# inserted in array order, which is their creation order (seq).
_INSTANCE_ROWS = (
    "v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(n int, id text, name text, definition_id text,"
    " version int, description text, reference text, status text, data jsonb, next_execution timestamptz,"
    " create_time timestamptz, complete_time timestamptz, parent_workflow_id text, root_workflow_id text,"
    " forked_from text, queue text, priority int, fence bigint, pointers jsonb, subscriptions jsonb))"
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
    " v.parent_workflow_id, v.root_workflow_id, v.forked_from, v.queue, v.priority FROM v LEFT JOIN r ON r.n = v.n"
    " LEFT JOIN c ON c.definition_id = v.definition_id AND v.name IS NULL"
    " LEFT JOIN q ON q.definition_id = v.definition_id AND v.name IS NULL ORDER BY v.n RETURNING id, name),"
    " p AS (" + _POINTER_ROWS + ")"
    " SELECT id, name FROM w"
)
# One idempotent start: the same statement, an existing id making the insert (and its pointers) a no-op.
_CREATE_WORKFLOW_ONCE = _CREATE_WORKFLOWS.replace(
    " ORDER BY v.n RETURNING id, name)", " ORDER BY v.n ON CONFLICT (id) DO NOTHING RETURNING id, name)"
)
assert _CREATE_WORKFLOW_ONCE != _CREATE_WORKFLOWS
# The passes of many instances in one statement (group commit): one JSON array of rows, each the instance's
# fields, its fence, and its changed pointers and new subscriptions. Only rows whose fenced UPDATE matched get
# their pointers and subscriptions written; the ids of those rows come back.
_PERSIST_WORKFLOWS = (
    "WITH " + _INSTANCE_ROWS + ","
    " w AS (UPDATE {workflows} AS t SET definition_id = v.definition_id, version = v.version,"
    " description = v.description, reference = v.reference, status = v.status, data = v.data,"
    " next_execution = v.next_execution, complete_time = v.complete_time,"
    " parent_workflow_id = v.parent_workflow_id, root_workflow_id = v.root_workflow_id,"
    " forked_from = v.forked_from, queue = v.queue, priority = v.priority, fence = GREATEST(t.fence, COALESCE(v.fence, t.fence))"
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
# The same, releasing with their passes the leases of the runs they end (``persist_workflow_released``): a lease
# goes only with a pass whose fenced update matched, and only while its token still holds the resource.
_PERSIST_WORKFLOWS_RELEASING = _PERSIST_WORKFLOWS.removesuffix(" SELECT id FROM w") + (
    ", r AS (DELETE FROM {locks} AS lk USING unnest(%s::text[], %s::text[]) AS u(resource, token), w"
    " WHERE w.id = u.resource AND lk.resource = u.resource AND lk.token = u.token)"
    " SELECT id FROM w"
)
assert _PERSIST_WORKFLOWS.endswith(" SELECT id FROM w")
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
