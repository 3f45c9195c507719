"""The commands that install a wfe distribution, for the errors and docs that name a missing one.

Every hint names two routes: the PyPI form (``pip install "wfe[postgres]"``), which is what users type once the
packages are released, and the form that installs from a clone of the repository, where each distribution is a
folder under ``packages/``. pip needs the sibling folders named next to ``wfe`` itself: the distributions pin each
other at one version (``wfe-core==0.1.0``), and pip finds a sibling only where it is given one.
"""

from __future__ import annotations

import re

_WFE_EXTRAS: dict[str, tuple[str, ...]] = {
    "yaml": ("wfe-yaml",),
    "js": ("wfe-yaml",),
    "sqlite": ("wfe-sqlite",),
    "postgres": ("wfe-postgres",),
    "valkey": ("wfe-valkey",),
    "opensearch": ("wfe-opensearch",),
    "otel": (),
    "server": ("wfe-server",),
    "all": ("wfe-yaml", "wfe-sqlite", "wfe-postgres", "wfe-valkey", "wfe-opensearch", "wfe-server"),
}
_ORDER = (
    "wfe-core",
    "wfe-yaml",
    "wfe-sqlite",
    "wfe-postgres",
    "wfe-valkey",
    "wfe-opensearch",
    "wfe-server",
    "wfe",
)
_REQUIREMENT = r"^(?P<name>wfe(?:-[a-z]+)?)(?:\[(?P<extras>[a-z0-9_,\s-]*)\])?$"
"""Compiled by its first use (``re`` keeps it), not at import: every ``wfe_core.errors`` import loads this module,
and only the hint of a missing package reads a requirement."""


def _parse(requirement: str) -> tuple[str, list[str]]:
    match = re.match(_REQUIREMENT, requirement.strip())
    if match is None or match["name"] not in _ORDER:
        raise ValueError(f"not a wfe distribution: {requirement!r}")
    extras = [extra.strip() for extra in (match["extras"] or "").split(",") if extra.strip()]
    return match["name"], extras


def _quoted(argument: str) -> str:
    return f'"{argument}"' if "[" in argument else argument


def pip_command(requirement: str) -> str:
    """``pip install "wfe[postgres]"``: the PyPI form."""
    _parse(requirement)
    return f"pip install {_quoted(requirement.strip())}"


def clone_command(requirement: str) -> str:
    """The same install from the root of a clone of the repository, e.g. for ``wfe[postgres]``:
    ``pip install ./packages/wfe-core ./packages/wfe-postgres "./packages/wfe[postgres]"``."""
    name, extras = _parse(requirement)
    needed = {"wfe-core", name}
    if name == "wfe":
        for extra in extras:
            needed.update(_WFE_EXTRAS.get(extra, ()))
    arguments = []
    for dist in _ORDER:
        if dist in needed:
            folder = f"./packages/{dist}"
            arguments.append(_quoted(f"{folder}[{','.join(extras)}]" if dist == name and extras else folder))
    return "pip install " + " ".join(arguments)


def install_hint(requirement: str) -> str:
    """Both routes in one sentence, for an error message."""
    return f"{pip_command(requirement)} (from a clone of the wfe repository: {clone_command(requirement)})"
