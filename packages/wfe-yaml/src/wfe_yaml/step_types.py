"""Finding step types: the ``wfe.steps`` entry-point group maps each YAML ``type:`` value to a provider."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from wfe_yaml.plugin import StepType

ENTRY_POINT_GROUP = "wfe.steps"

# Types whose provider ships in an optional extra: the fix to name when the import fails.
_INSTALL_HINTS = {"deno": "wfe-yaml[js]", "js": "wfe-yaml[js]"}


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


def available_step_types() -> list[str]:
    """The names of every installed step type, sorted."""
    return sorted(_entry_points())


def is_available(name: str) -> bool:
    """Whether some installed plugin registers step type ``name``."""
    return name in _entry_points()


@cache
def load_step_type(name: str) -> StepType:
    """The provider of step type ``name`` (created once and reused).

    Raises:
        KeyError: no installed plugin registers ``name``.
        StepTypeImportError: the provider could not be imported or created.
    """
    entry = _entry_points()[name]
    try:
        factory = entry.load()
        provider = factory()
    except ImportError as exc:
        raise StepTypeImportError(
            name, f"its provider could not be imported: {exc}", _INSTALL_HINTS.get(name)
        ) from exc
    except Exception as exc:
        raise StepTypeImportError(
            name, f"its provider failed to start: {exc}", _INSTALL_HINTS.get(name)
        ) from exc
    if not isinstance(provider, StepType):
        raise StepTypeImportError(name, f"{entry.value} does not provide the StepType protocol", None)
    return provider
