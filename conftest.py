"""Workspace-wide pytest configuration."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (several host processes, kills, freezes past a lease, server restarts) run one after
    another on one pytest-xdist worker (``--dist loadgroup``), so two of them never share the machine's cores;
    the other tests of a session run beside them on the other workers."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("slow"))
