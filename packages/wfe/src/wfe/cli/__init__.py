"""The ``wfe`` command line: run YAML pipelines with a live progress view, resume them, inspect the store.

The console script ``wfe`` calls :func:`main`; :data:`cli` is the click group (handy for ``CliRunner``).
"""

from wfe.cli.commands import main
from wfe.cli.common import cli

__all__ = ["cli", "main"]
