"""Where the command line keeps its state: the ``.wfe`` folder of the current directory and the default store in it.

Apart from :mod:`wfe.cli.runs` (the run records ``wfe resume`` reads), which commands that start no run, such as
``wfe validate``, do not import."""

from __future__ import annotations

from pathlib import Path

STATE_DIR = Path(".wfe")
"""The CLI's folder in the current directory: the default store and the run records."""
DEFAULT_STORE = f"sqlite:///{STATE_DIR / 'wfe.db'}"
