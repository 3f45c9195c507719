"""The ``poll-endpoint`` step type (also spelt ``poll_endpoint``, the Rust WFE's primitive name): the core
:class:`~wfe_core.primitives.PollEndpoint` step, configured from ``config:``.

The step proceeds with ``outputs`` ``status`` (the status code) and ``body`` (the JSON body, or the text when it
is not JSON); as for ``type: workflow``, only the keys the step lists in ``outputs:`` are merged into the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wfe_core.errors import DefinitionError, MissingExtraError
from wfe_core.primitives import BodyContains, PollEndpoint, PollEndpointConfig
from wfe_core.step import StepBody
from wfe_yaml.durations import parse_duration_ms

Duration = str | int | float


class PollEndpointYamlConfig(BaseModel):
    """Configuration of a ``type: poll-endpoint`` step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="The http:// or https:// URL to poll.")
    method: str = Field("GET", description="GET (default), POST, PUT, PATCH, DELETE or HEAD.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    body: Any = Field(None, description="Request body: a string is sent as is, anything else as JSON.")
    until: str | None = Field(
        None, description="""JSONPath condition on the JSON body, e.g. '$.status == "ready"'."""
    )
    body_contains: str | None = Field(None, description="The body's text must contain this string.")
    status: int | list[int] | None = Field(None, description="Accepted status code(s); default any 2xx.")
    interval: Duration = Field("10s", description="Time between polls (default 10s).")
    timeout: Duration = Field("5m", description="Give up (the step fails) after this long (default 5m).")
    request_timeout: Duration = Field("30s", description="Timeout of one request (default 30s).")

    def core(self) -> PollEndpointConfig:
        """The core configuration; raises DefinitionError, MissingExtraError or ValueError."""
        if self.until is not None and self.body_contains is not None:
            raise DefinitionError("give one of 'until' and 'body_contains'")
        return PollEndpointConfig.create(
            self.url,
            until=self.until if self.body_contains is None else BodyContains(self.body_contains),
            status=self.status,
            method=self.method,
            headers=self.headers,
            body=self.body,
            interval=_duration(self.interval),
            timeout=_duration(self.timeout),
            request_timeout=_duration(self.request_timeout),
        )


def _duration(value: Duration) -> timedelta:
    return timedelta(milliseconds=parse_duration_ms(value))


class PollEndpointBody(PollEndpoint):
    """The core step, exposing the response as ``outputs``."""

    @property
    def outputs(self) -> dict[str, Any]:
        response = self.response
        if response is None:
            return {}
        return {"status": response.status, "body": response.json if response.is_json else response.text}


class PollEndpointStepType:
    """The ``poll-endpoint`` step type (entry points ``wfe.steps: poll-endpoint`` and ``poll_endpoint``)."""

    name = "poll-endpoint"
    config_model = PollEndpointYamlConfig
    requires_config = True
    output_keys_filter = True
    """Only the keys the step lists in ``outputs:`` (``status``, ``body``) are merged into the data."""

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        try:
            PollEndpointYamlConfig.model_validate(dict(config)).core()
        except ValidationError as exc:
            return [
                f"Poll-endpoint step '{step_name}': config.{'.'.join(str(p) for p in error['loc'])}: "
                f"{error['msg']}"
                for error in exc.errors()
            ]
        except (DefinitionError, MissingExtraError, ValueError) as exc:
            return [f"Poll-endpoint step '{step_name}': {exc}"]
        return []

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        return PollEndpointBody(PollEndpointYamlConfig.model_validate(dict(config)).core())
