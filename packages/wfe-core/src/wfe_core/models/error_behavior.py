"""ErrorBehavior: what happens when a step raises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class ErrorKind(StrEnum):
    RETRY = "retry"
    SUSPEND = "suspend"
    TERMINATE = "terminate"
    COMPENSATE = "compensate"


@dataclass(frozen=True, slots=True)
class ErrorBehavior:
    """Per-step (or per-definition) error handling; build it with the factories.

    ``retry(interval, max_retries)``: run again after ``interval``, at most ``max_retries`` times after the first
    run (``None``: unbounded); with ``backoff`` the interval is multiplied by it after each retry, capped at
    ``max_interval``. When retries are exhausted the step fails for good: it is compensated when compensation
    applies, otherwise the pointer is FAILED and the workflow SUSPENDED.
    """

    kind: ErrorKind
    interval: timedelta = timedelta(seconds=60)
    max_retries: int | None = 3
    backoff: float = 1.0
    max_interval: timedelta | None = None

    @classmethod
    def retry(
        cls,
        interval: timedelta = timedelta(seconds=60),
        max_retries: int | None = 3,
        *,
        backoff: float = 1.0,
        max_interval: timedelta | None = None,
    ) -> ErrorBehavior:
        return cls(ErrorKind.RETRY, interval, max_retries, backoff, max_interval)

    @classmethod
    def suspend(cls) -> ErrorBehavior:
        return cls(ErrorKind.SUSPEND)

    @classmethod
    def terminate(cls) -> ErrorBehavior:
        return cls(ErrorKind.TERMINATE)

    @classmethod
    def compensate(cls) -> ErrorBehavior:
        return cls(ErrorKind.COMPENSATE)

    def retry_delay(self, retry_count: int) -> timedelta:
        """The wait before retry number ``retry_count`` (1-based)."""
        delay = self.interval * (self.backoff ** max(0, retry_count - 1))
        if self.max_interval is not None and delay > self.max_interval:
            return self.max_interval
        return delay
