"""The wfe exception tree.

Every error wfe raises on purpose derives from :class:`WfeError`::

    WfeError
    ├── ConfigurationError (ValueError) an option, URL or setting is wrong (names the option and the fix)
    │   └── MissingExtraError           an optional package is not installed (names the install command)
    ├── DefinitionError                 a workflow definition is invalid (raised by ``build()``)
    ├── WorkflowDataError (ValueError)  workflow data or step output cannot be stored (names the key path)
    ├── WorkflowNotRegisteredError      no definition with that id (and version) is registered
    ├── WorkflowNotFoundError           no instance with that id or name exists
    ├── EventNotFoundError
    ├── SubscriptionNotFoundError
    ├── ProviderError                   a provider could not do its job
    │   ├── ProviderNotFoundError       no provider for a URL scheme (names the install command)
    │   ├── PersistenceError            the store failed; the driver's error is the ``__cause__``
    │   │   └── ValueRefusedError       the store refused a value for its content (NUL character, NaN)
    │   │       └── UnstorableDataError a value is not JSON (also a WorkflowDataError: names the key path)
    │   ├── LockError
    │   ├── QueueError
    │   └── SearchError
    ├── LeaseLostError                  a lock lease expired or was taken over; the pass's writes were refused
    ├── StepError                       base for errors raised around step execution
    │   ├── ActivityFailedError         an external worker reported an activity as failed
    │   ├── ChildWorkflowFailedError    a sub-workflow ended Terminated or failed
    │   └── PollTimeoutError            poll_endpoint's condition did not hold before its timeout
    └── HostError                       misuse of the host (not started, sync API inside a running loop, ...)

Provider packages wrap their driver's exceptions (``raise PersistenceError(...) from exc``) so no raw
driver error escapes to users.
"""

from __future__ import annotations

from typing import Any

from wfe_core.install import install_hint, pip_command


class WfeError(Exception):
    """Root of every error wfe raises on purpose."""


class ConfigurationError(WfeError, ValueError):
    """An option, URL or setting is wrong: a host option of the wrong type or out of range, a store URL that
    cannot work, a step's configuration. Raised when the object is configured (``with_options``, ``build()``,
    a provider's constructor), not when it is first used; the message names the option and the fix.

    Also a ``ValueError``, so code written as ``except ValueError`` keeps catching it."""


class MissingExtraError(ConfigurationError):
    """An optional package that a feature needs is not installed.

    ``extra`` is the extra that brings it (``"yaml"``, ``"otel"``, ``"js"``), ``package`` what is missing
    (``"wfe-yaml"``, ``"opentelemetry-api"``), ``requirement`` what to install (``wfe[yaml]``) and
    ``install_command`` the command that installs it (``pip install "wfe[yaml]"``); the message names that
    command and the one that installs from a clone of the repository."""

    def __init__(self, what: str, *, extra: str, package: str, requirement: str | None = None) -> None:
        self.extra = extra
        self.package = package
        self.requirement = requirement or f"wfe[{extra}]"
        self.install_command = pip_command(self.requirement)
        super().__init__(
            f"{what}: {package} not installed. Install the '{extra}' extra: {install_hint(self.requirement)}"
        )


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


JSON_FIX = "make it JSON-compatible: dict, list, str, number, bool, None, or a pydantic model"


class UnstorableDataError(ValueRefusedError, WorkflowDataError):
    """Workflow data, event data or a step's output holds a value that cannot be written as JSON (an instance
    of a class of your own, a function, an open file).

    ``path`` is where it is (``data.items[2].owner``, ``step 'charge'.outcome.receipt``) and ``value_type``
    its class. A ``WorkflowDataError`` for the caller of ``start_workflow``/``publish_event``; a
    ``ValueRefusedError`` for the host, which counts a pass that produced one as a failure of its steps."""

    def __init__(self, path: str, value_type: type) -> None:
        self.path = path
        self.value_type = value_type
        name = (
            value_type.__qualname__
            if value_type.__module__ == "builtins"
            else (f"{value_type.__module__}.{value_type.__qualname__}")
        )
        super().__init__(f"{path} holds a {name}, which cannot be stored as JSON: {JSON_FIX}")


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


class PollTimeoutError(StepError):
    """``poll_endpoint`` polled until its timeout and the condition never held; the step's error behaviour
    applies (a retry polls for a whole timeout again)."""

    def __init__(self, method: str, url: str, timeout: Any, polls: int, last: str) -> None:
        self.url = url
        self.polls = polls
        self.last = last
        super().__init__(
            f"poll_endpoint {method} {url}: the condition did not hold within {timeout} ({polls} poll(s); "
            f"last: {last}); check the endpoint and the condition, or give a longer timeout"
        )


class HostError(WfeError):
    """The host was used in a way it does not support (not started, sync call inside a running loop, ...)."""


class ArtifactError(ProviderError):
    """The artifact store failed, or refused a name, a source or a destination."""


class ArtifactNotFoundError(ArtifactError):
    """No artifact with this name exists for the workflow (or no content with this digest is stored)."""
