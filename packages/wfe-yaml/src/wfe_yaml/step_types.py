"""Finding step types: the ``wfe.steps`` entry-point group maps each YAML ``type:`` value to a provider."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from wfe_yaml.plugin import StepType

ENTRY_POINT_GROUP = "wfe.steps"

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
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


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
    return sorted(set(_entry_points()) | set(_registered))


def is_available(name: str) -> bool:
    """Whether step type ``name`` is registered or some installed plugin provides it."""
    return name in _registered or name in _entry_points()


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
    entry = _entry_points()[name]
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
