"""The defaults of ``poll_endpoint`` (apart from the step, so that the builder's signature names them without
loading HTTP polling)."""

from __future__ import annotations

from datetime import timedelta

DEFAULT_INTERVAL = timedelta(seconds=10)
DEFAULT_TIMEOUT = timedelta(minutes=5)
DEFAULT_REQUEST_TIMEOUT = timedelta(seconds=30)
