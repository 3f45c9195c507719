"""The wfe exception tree.

Every error wfe raises on purpose derives from :class:`WfeError`::

    WfeError
    ├── DefinitionError                 a workflow definition is invalid (raised by ``build()``)
    ├── WorkflowNotRegisteredError      no definition with that id (and version) is registered
    ├── WorkflowNotFoundError           no instance with that id or name exists
    ├── EventNotFoundError
    ├── SubscriptionNotFoundError
    ├── ProviderError                   a provider could not do its job
    │   ├── ProviderNotFoundError       no provider for a URL scheme (names the install command)
    │   ├── PersistenceError            the store failed; the driver's error is the ``__cause__``
    │   │   └── ValueRefusedError       the store refused a value for its content (NUL character, NaN)
    │   ├── LockError
    │   ├── QueueError
    │   └── SearchError
    ├── LeaseLostError                  a lock lease expired or was taken over; the pass's writes were refused
    ├── StepError                       base for errors raised around step execution
    │   ├── ActivityFailedError         an external worker reported an activity as failed
    │   └── ChildWorkflowFailedError    a sub-workflow ended Terminated or failed
    └── HostError                       misuse of the host (not started, sync API inside a running loop, ...)

Provider packages wrap their driver's exceptions (``raise PersistenceError(...) from exc``) so no raw
driver error escapes to users.
"""

from __future__ import annotations

from typing import Any

from wfe_core.install import install_hint


class WfeError(Exception):
    """Root of every error wfe raises on purpose."""


class DefinitionError(WfeError):
    """A workflow definition is invalid; raised by ``WorkflowBuilder.build()``."""


class WorkflowDataError(WfeError, ValueError):
    """Data given to ``start_workflow`` or ``publish_event`` cannot be stored (a lone surrogate in a string,
    nesting deeper than the limit); the message names where and the fix."""


class WorkflowNotRegisteredError(WfeError):
    """No definition with this id (and version) is registered on the host."""

    def __init__(self, definition_id: str, version: int | None = None) -> None:
        self.definition_id = definition_id
        self.version = version
        which = f"'{definition_id}'" + (f" version {version}" if version is not None else "")
        super().__init__(f"workflow {which} is not registered: call host.register_workflow(definition) first")


class WorkflowNotFoundError(WfeError):
    """No workflow instance with this id or name exists in the store."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow instance '{workflow_id}' not found")


class WorkflowNameTakenError(WfeError):
    """A workflow was started with a human ``name`` another instance already has (names are unique per store)."""

    def __init__(self, name: str, existing_id: str) -> None:
        self.name = name
        self.existing_id = existing_id
        super().__init__(
            f"workflow name '{name}' is already used by instance '{existing_id}': choose another name, or "
            "pass workflow_id= to make a repeated start return the existing instance"
        )


class ScheduleNotFoundError(WfeError):
    """No schedule with this id exists in the store."""

    def __init__(self, schedule_id: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(f"schedule '{schedule_id}' not found: add it with host.add_schedule(...) first")


class EventNotFoundError(WfeError):
    """No event with this id exists in the store."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event '{event_id}' not found")


class SubscriptionNotFoundError(WfeError):
    """No event subscription with this id exists, or its token does not match."""

    def __init__(self, subscription_id: str, detail: str = "") -> None:
        self.subscription_id = subscription_id
        super().__init__(f"subscription '{subscription_id}' not found{': ' + detail if detail else ''}")


class ProviderError(WfeError):
    """A provider (persistence, lock, queue, search, lifecycle hub) could not do its job."""


class ProviderNotFoundError(ProviderError):
    """No installed provider handles this URL scheme."""

    def __init__(self, group: str, scheme: str, install: str | None = None) -> None:
        self.group = group
        self.scheme = scheme
        self.install = install
        hint = f": {install_hint(install)}" if install else ""
        super().__init__(f"no {group.removeprefix('wfe.')} provider for scheme '{scheme}'{hint}")


class PersistenceError(ProviderError):
    """The store failed; the driver's exception is chained as ``__cause__``."""


class ValueRefusedError(PersistenceError):
    """The store refused a value for its content, not for a lost connection: writing it again fails again.

    PostgreSQL, for one, cannot keep a NUL character (``\u0000``) in JSON text or a NaN or infinite number.
    The host counts such a pass as a failure of the steps that ran in it (see ``docs/concepts.md``)."""


class LockError(ProviderError):
    """The lock provider failed."""


class QueueError(ProviderError):
    """The queue provider failed."""


class SearchError(ProviderError):
    """The search index failed."""


class LeaseLostError(WfeError):
    """The lock lease guarding a write expired or was taken over by another host.

    Raised by persistence providers when ``persist_workflow`` is called with a fencing token older than the
    newest one issued for the workflow; the write is refused and nothing of it is stored.
    """

    def __init__(self, resource: str, detail: str = "") -> None:
        self.resource = resource
        super().__init__(f"lease on '{resource}' lost{': ' + detail if detail else ''}")


class StepError(WfeError):
    """Base for errors raised around the execution of a step."""


class ActivityFailedError(StepError):
    """An external worker reported the activity as failed."""

    def __init__(self, activity_name: str, error: Any) -> None:
        self.activity_name = activity_name
        self.error = error
        super().__init__(f"activity '{activity_name}' failed: {error}")


class ChildWorkflowFailedError(StepError):
    """A sub-workflow did not complete (terminated, or failed and suspended)."""

    def __init__(self, child_id: str, status: str, message: str = "") -> None:
        self.child_id = child_id
        self.status = status
        super().__init__(f"sub-workflow {child_id} ended {status}{': ' + message if message else ''}")


class HostError(WfeError):
    """The host was used in a way it does not support (not started, sync call inside a running loop, ...)."""
