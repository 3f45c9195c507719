"""``--var key=value`` options: the config map that fills a pipeline's ``((key))`` / ``${{ key }}`` placeholders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import click


def parse_vars(pairs: Iterable[str]) -> dict[str, Any]:
    """``["env=prod", "deploy.region=eu"]`` -> ``{"env": "prod", "deploy": {"region": "eu"}}``.

    Values stay strings; a dotted key nests so ``((deploy.region))`` resolves. Later pairs win.
    """
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not key=value (for example --var env=production)")
        target = config
        parts = key.split(".")
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[parts[-1]] = value
    return config


def flatten_vars(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The inverse of :func:`parse_vars`, for showing and storing the vars of a run."""
    pairs: list[str] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs.extend(flatten_vars(value, f"{name}."))
        else:
            pairs.append(f"{name}={value}")
    return pairs
