"""PollEndpoint: poll an HTTP endpoint until a condition on its response holds, sleeping durably in between.

Each run of the step makes one request. When the response satisfies every condition (the status, by default any
2xx, and ``until`` when given) the step proceeds, with the response as ``step.response``. Otherwise it returns
``ExecutionResult.sleep(interval)``: the pointer sleeps in the store with a persisted wake time, like ``delay``,
so a host that stops or dies between two polls leaves nothing running, and whichever host runs the workflow next
polls again when the time comes. The deadline (first poll + ``timeout``) is kept in the pointer's persistence
data; a poll that fails at or after it raises :class:`~wfe_core.errors.PollTimeoutError` and the step's error
behaviour applies (a retry starts a new window of ``timeout``). A request that fails (connection refused, a
timeout of its own) counts as a poll whose condition did not hold.

The HTTP client (aiohttp) and the JSONPath library (python-jsonpath) come with the ``http`` extra (``wfe[http]``, or ``wfe-core[http]``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from wfe_core.definition import call_flexible
from wfe_core.errors import DefinitionError, MissingExtraError, PollTimeoutError
from wfe_core.models import ExecutionResult
from wfe_core.primitives.poll_conditions import (
    HTTP_EXTRA,
    PollCondition,
    PollResponse,
    as_condition,
    status_condition,
)
from wfe_core.primitives.poll_defaults import DEFAULT_INTERVAL as DEFAULT_INTERVAL
from wfe_core.primitives.poll_defaults import DEFAULT_REQUEST_TIMEOUT as DEFAULT_REQUEST_TIMEOUT
from wfe_core.primitives.poll_defaults import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from wfe_core.step import StepBody, StepExecutionContext

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_BODY_BYTES = 1024 * 1024
"""The part of a response body that is read (and that conditions see); the rest is ignored."""

Until = str | PollCondition | Callable[[PollResponse], Any] | None


@dataclass(frozen=True, slots=True)
class PollEndpointConfig:
    """What to poll and until when; ``url``, ``headers`` and ``body`` may be functions ``fn(data, ctx)``
    evaluated before each request. Build it with :meth:`create`, which checks it."""

    url: str | Callable[..., Any]
    method: str
    headers: Mapping[str, str] | Callable[..., Any] | None
    body: Any
    conditions: tuple[PollCondition, ...]
    interval: timedelta
    timeout: timedelta
    request_timeout: timedelta

    @classmethod
    def create(
        cls,
        url: str | Callable[..., Any],
        *,
        until: Until = None,
        status: int | Iterable[int] | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | Callable[..., Any] | None = None,
        body: Any = None,
        interval: timedelta = DEFAULT_INTERVAL,
        timeout: timedelta = DEFAULT_TIMEOUT,
        request_timeout: timedelta = DEFAULT_REQUEST_TIMEOUT,
    ) -> PollEndpointConfig:
        """Raises :class:`~wfe_core.errors.DefinitionError` for a bad value and
        :class:`~wfe_core.errors.MissingExtraError` when the ``http`` extra is missing."""
        if importlib.util.find_spec("aiohttp") is None:
            raise MissingExtraError("poll_endpoint", extra="http", package="aiohttp", requirement=HTTP_EXTRA)
        if isinstance(url, str) and not url.startswith(("http://", "https://")):
            raise DefinitionError(f"poll_endpoint url {url!r}: give an http:// or https:// URL")
        if not isinstance(url, str) and not callable(url):
            raise DefinitionError(f"poll_endpoint url {url!r}: give a URL or a function of the data")
        verb = method.upper()
        if verb not in METHODS:
            raise DefinitionError(f"poll_endpoint method {method!r}: use one of {', '.join(METHODS)}")
        for name, value in (("interval", interval), ("request_timeout", request_timeout)):
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise DefinitionError(f"poll_endpoint {name}={value!r}: give a positive timedelta")
        if not isinstance(timeout, timedelta) or timeout < timedelta(0):
            raise DefinitionError(f"poll_endpoint timeout={timeout!r}: give a timedelta (0 polls once)")
        conditions: list[PollCondition] = [status_condition(status)]
        condition = as_condition(until)
        if condition is not None:
            conditions.append(condition)
        return cls(url, verb, headers, body, tuple(conditions), interval, timeout, request_timeout)

    def holds(self, response: PollResponse) -> bool:
        return all(condition.holds(response) for condition in self.conditions)


class PollEndpoint(StepBody):
    """The step ``poll_endpoint`` adds; after it proceeds, ``response`` holds the response that satisfied the
    conditions (``status``, ``text``, ``json``, ``headers``)."""

    run_in_thread: ClassVar[bool] = False

    def __init__(self, config: PollEndpointConfig) -> None:
        self.config = config
        self.response: PollResponse | None = None

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        config = self.config
        state = self._state(ctx)
        deadline = datetime.fromisoformat(state["deadline"])
        url = _resolve(config.url, ctx)
        polls = int(state.get("polls", 0)) + 1
        try:
            response = await _request(
                config.method,
                str(url),
                headers=_resolve(config.headers, ctx),
                body=_resolve(config.body, ctx),
                timeout=config.request_timeout,
            )
        except (TimeoutError, OSError, _client_error()) as exc:
            last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if config.holds(response):
                ctx.log(f"poll {polls}: {response.summary()}: the condition holds")
                self.response = response
                return ExecutionResult.next()
            last = response.summary()
        ctx.log(f"poll {polls}: {last}")
        remaining = deadline - ctx.clock.now()
        if remaining <= timedelta(0):
            raise PollTimeoutError(config.method, masked_url(str(url)), config.timeout, polls, last)
        state = {**state, "polls": polls, "last": last}
        return ExecutionResult.sleep(min(config.interval, remaining), state)

    def _state(self, ctx: StepExecutionContext) -> dict[str, Any]:
        """The window of this attempt: a retry of the step (a new ``retry_count``) starts a new one."""
        state = ctx.persistence_data
        attempt = ctx.pointer.retry_count
        if isinstance(state, dict) and state.get("attempt") == attempt and "deadline" in state:
            return state
        deadline = ctx.clock.now() + self.config.timeout
        return {"attempt": attempt, "deadline": deadline.isoformat(), "polls": 0}


def masked_url(url: str) -> str:
    """``url`` with its user info (``user:password@``, a token) replaced by ``***`` (for errors and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def _resolve(value: Any, ctx: StepExecutionContext) -> Any:
    return call_flexible(value, ctx.data, ctx) if callable(value) else value


def _client_error() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError


async def _request(method: str, url: str, *, headers: Any, body: Any, timeout: timedelta) -> PollResponse:
    try:
        import aiohttp
    except ImportError as exc:
        raise MissingExtraError(
            "poll_endpoint", extra="http", package="aiohttp", requirement=HTTP_EXTRA
        ) from exc
    options: dict[str, Any] = {}
    if isinstance(body, str | bytes):
        options["data"] = body
    elif body is not None:
        options["json"] = body
    client_timeout = aiohttp.ClientTimeout(total=timeout.total_seconds())
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.request(method, url, headers=dict(headers or {}), **options) as resp,
    ):
        chunks: list[bytes] = []
        size = 0
        while size < MAX_BODY_BYTES:
            chunk = await resp.content.read(MAX_BODY_BYTES - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        text = b"".join(chunks).decode(resp.charset or "utf-8", errors="replace")
        return PollResponse.of(resp.status, text, dict(resp.headers))
