"""Finding step types: the ``wfe.steps`` entry-point group maps each YAML ``type:`` value to a provider.

wfe-yaml's own types (:data:`BUILT_IN`) are found without scanning the installed distributions' entry points:
that scan reads the metadata of every distribution, and a file that uses only built-in types (what
``wfe validate`` checks most) never needs it. Any other name is looked up in the scan, done once."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from wfe_yaml.plugin import StepType

ENTRY_POINT_GROUP = "wfe.steps"

BUILT_IN = {
    "shell": "wfe_yaml.shell:ShellStepType",
    "deno": "wfe_yaml.js:JsStepType",
    "js": "wfe_yaml.js:JsStepType",
    "workflow": "wfe_yaml.subworkflow:SubWorkflowStepType",
    "poll-endpoint": "wfe_yaml.poll_endpoint:PollEndpointStepType",
    "poll_endpoint": "wfe_yaml.poll_endpoint:PollEndpointStepType",
    "git-repo": "wfe_yaml.git:GitRepoStepType",
}
"""wfe-yaml's own step types: name -> entry-point value, the ``wfe.steps`` entry points of its
``pyproject.toml`` (a test keeps the two the same). They take precedence over an installed entry point of the
same name."""

# Types whose provider ships in an optional extra: the fix to name when the import fails.
_INSTALL_HINTS = {
    "deno": "wfe-yaml[js]",
    "js": "wfe-yaml[js]",
    "poll-endpoint": "wfe[http]",
    "poll_endpoint": "wfe[http]",
}


class StepTypeImportError(Exception):
    """The entry point exists but its provider cannot be imported; ``install`` names the fix when known."""

    def __init__(self, name: str, reason: str, install: str | None) -> None:
        self.name = name
        self.reason = reason
        self.install = install
        super().__init__(f"step type '{name}': {reason}")


@cache
def _entry_points() -> dict[str, EntryPoint]:
    """Every installed ``wfe.steps`` entry point by name (the scan of the distributions' metadata, once)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point(name: str) -> EntryPoint:
    """The entry point of step type ``name``: a built-in one without the scan, else an installed one.

    Raises:
        KeyError: no installed plugin registers ``name``.
    """
    value = BUILT_IN.get(name)
    if value is not None:
        return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    return _entry_points()[name]


_registered: dict[str, StepType] = {}


def register_step_type(name: str, provider: StepType) -> None:
    """Provide step type ``name`` from this process (for applications that embed wfe; packages use the
    ``wfe.steps`` entry points). It takes precedence over an entry point of the same name."""
    if not isinstance(provider, StepType):
        raise TypeError(f"{provider!r} does not provide the StepType protocol (name, validate, create)")
    _registered[name] = provider


def unregister_step_type(name: str) -> None:
    """Undo :func:`register_step_type` (no-op when ``name`` was not registered)."""
    _registered.pop(name, None)


def available_step_types() -> list[str]:
    """The names of every installed or registered step type, sorted."""
    return sorted(set(BUILT_IN) | set(_entry_points()) | set(_registered))


def is_available(name: str) -> bool:
    """Whether step type ``name`` is registered or some installed plugin provides it."""
    return name in _registered or name in BUILT_IN or name in _entry_points()


def load_step_type(name: str) -> StepType:
    """The provider of step type ``name`` (created once and reused).

    Raises:
        KeyError: no installed plugin registers ``name``.
        StepTypeImportError: the provider could not be imported or created.
    """
    registered = _registered.get(name)
    if registered is not None:
        return registered
    return _load_entry_point(name)


@cache
def _load_entry_point(name: str) -> StepType:
    entry = _entry_point(name)
    try:
        factory = entry.load()
        provider = factory()
    except ImportError as exc:
        # Name the extra only when a third-party module is missing, not when the plugin itself is broken.
        own = entry.value.split(":")[0].split(".")[0]
        missing_dependency = (exc.name or "").split(".")[0] != own
        raise StepTypeImportError(
            name,
            f"its provider could not be imported: {exc}",
            _INSTALL_HINTS.get(name) if missing_dependency else None,
        ) from exc
    except Exception as exc:
        raise StepTypeImportError(
            name, f"its provider failed to start: {exc}", _INSTALL_HINTS.get(name)
        ) from exc
    if not isinstance(provider, StepType):
        raise StepTypeImportError(name, f"{entry.value} does not provide the StepType protocol", None)
    return provider
