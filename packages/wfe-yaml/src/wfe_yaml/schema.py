"""Pydantic models of the YAML workflow format (the file, workflows, steps, conditions, error behaviours).

They check shapes and types; the rules that span fields (unique names, the Rust validation order, typed
conditions) live in :mod:`wfe_yaml.validation`. Unknown keys are refused everywhere except keys starting with
``_`` at file and workflow level, which hold anchors for templates (and keys of the Rust WFE's step config,
which :mod:`wfe_yaml.keys` removes with a warning before these models see them).

Every model defers its build (``defer_build=True``): the loader validates :class:`WorkflowSpec` alone, whose
validator, built on first use, holds those of the models nested in it; built at import, each nested model would
also build a validator and a serializer of its own that nothing uses (and :class:`WorkflowFile`, used for the
JSON Schema, one more of the whole tree).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wfe_core.errors import ConfigurationError
from wfe_yaml.durations import parse_duration_ms

Duration = Annotated[
    str | int | float,
    Field(description="A duration: '500ms', '30s', '5m', '1h', or a bare number of milliseconds."),
]


def _empty_list() -> list[Any]:
    """The default of the list fields. Not ``list`` itself: pydantic reads a default factory's signature when it
    builds a model, and reading a builtin's (from its text) compiles the tokenizer's patterns first, a few
    milliseconds of every ``wfe validate``."""
    return []


def _check_duration(value: Any) -> Any:
    if value is not None:
        parse_duration_ms(value)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class ErrorBehaviorSpec(_Strict):
    """What happens when a step raises: ``retry`` (with ``interval`` and ``max_retries``), ``suspend``,
    ``terminate`` or ``compensate``."""

    type: str = Field(description="One of retry, suspend, terminate, compensate.")
    interval: Duration | None = Field(None, description="Retry interval (default 60s).")
    max_retries: int | None = Field(None, ge=0, description="Retries after the first run (default 3).")

    _interval = field_validator("interval")(_check_duration)


class DataRef(_Strict):
    """A named value a step consumes (``inputs``) or produces (``outputs``)."""

    name: str = Field(description="The data key.")
    path: str | None = Field(None, description="Where the value is read from (informational).")
    json_path: str | None = Field(None, description="A JSON path into the value (informational).")


class Condition(_Strict):
    """A ``when`` condition: a comparison (``field`` plus exactly one operator) or a combinator
    (exactly one of ``all``, ``any``, ``none``, ``one_of``, ``not``)."""

    field: str | None = Field(None, description="Data path compared, e.g. '.inputs.branch' or '.outputs.ok'.")
    equals: Any = Field(None, description="True when the field equals this value (JSON equality).")
    not_equals: Any = Field(None, description="True when the field differs from this value.")
    gt: Any = Field(None, description="True when the field is greater than this number.")
    gte: Any = Field(None, description="True when the field is greater than or equal to this number.")
    lt: Any = Field(None, description="True when the field is less than this number.")
    lte: Any = Field(None, description="True when the field is less than or equal to this number.")
    contains: Any = Field(None, description="Substring of a string field, or element of a list field.")
    is_null: bool = Field(False, description="True when the field is null.")
    is_not_null: bool = Field(False, description="True when the field is present and not null.")
    all_: list[Condition] | None = Field(None, alias="all", description="True when every condition holds.")
    any_: list[Condition] | None = Field(None, alias="any", description="True when some condition holds.")
    none_: list[Condition] | None = Field(None, alias="none", description="True when no condition holds.")
    one_of: list[Condition] | None = Field(None, description="True when exactly one condition holds.")
    not_: Condition | None = Field(None, alias="not", description="True when the condition does not hold.")

    @property
    def operators(self) -> list[str]:
        """The comparison operators present (a false ``is_null``/``is_not_null`` counts as absent)."""
        names = [
            n
            for n in ("equals", "not_equals", "gt", "gte", "lt", "lte", "contains")
            if n in self.model_fields_set
        ]
        return names + [n for n in ("is_null", "is_not_null") if getattr(self, n)]

    @property
    def combinators(self) -> list[str]:
        """The combinators present, by their YAML names."""
        return [
            alias
            for name, alias in (
                ("all_", "all"),
                ("any_", "any"),
                ("none_", "none"),
                ("one_of", "one_of"),
                ("not_", "not"),
            )
            if getattr(self, name) is not None
        ]


class StepSpec(_Strict):
    """One step: a typed step (``type`` + ``config``) or a ``parallel`` group."""

    name: str = Field(description="Unique in the workflow, hooks and parallel children included.")
    type: str | None = Field(None, description="Step type: shell, deno (alias js), workflow, or a plugin's.")
    config: dict[str, Any] | None = Field(None, description="The step type's configuration.")
    inputs: list[DataRef] = Field(
        default_factory=_empty_list, description="Data the step reads (informational)."
    )
    outputs: list[DataRef] = Field(
        default_factory=_empty_list,
        description="Data the step produces; for type workflow, the child's keys copied back.",
    )
    parallel: list[StepSpec] | None = Field(None, description="Steps run concurrently (not with 'type').")
    error_behavior: ErrorBehaviorSpec | None = Field(None, description="What happens when the step fails.")
    on_success: StepSpec | None = Field(None, description="Runs after the step succeeds.")
    on_failure: StepSpec | None = Field(None, description="Compensation: runs when the step fails for good.")
    ensure: StepSpec | None = Field(None, description="Runs after the step whatever the outcome (finally).")
    continue_on_error: bool = Field(
        False, description="When the step fails for good, run its hooks and go on instead of failing the run."
    )
    when: Condition | None = Field(None, description="Skip the step unless this condition holds.")

    @model_validator(mode="before")
    @classmethod
    def _shell_by_default(cls, value: Any) -> Any:
        """A step with ``config.run`` or ``config.file`` and neither ``type`` nor ``parallel`` is a shell step."""
        if isinstance(value, dict) and "type" not in value and "parallel" not in value:
            config = value.get("config")
            if isinstance(config, dict) and ("run" in config or "file" in config):
                return {**value, "type": "shell"}
        return value

    @field_validator("outputs", "inputs", mode="before")
    @classmethod
    def _names_as_refs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def hooks(self) -> list[tuple[str, StepSpec]]:
        """The hooks present, in compile order (on_failure, on_success, ensure)."""
        pairs = (("on_failure", self.on_failure), ("on_success", self.on_success), ("ensure", self.ensure))
        return [(key, step) for key, step in pairs if step is not None]


class ReadinessHttp(_Strict):
    """An HTTP readiness probe."""

    port: int
    path: str = "/"


class Readiness(_Strict):
    """How to tell a service is ready: ``exec``, ``tcp`` or ``http``."""

    exec: list[str] | None = None
    tcp: int | None = None
    http: ReadinessHttp | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None

    _durations = field_validator("interval", "timeout")(_check_duration)


class ServiceSpec(_Strict):
    """An infrastructure container a workflow declares (kept as metadata: wfe does not provision services)."""

    image: str
    ports: list[int] = Field(default_factory=_empty_list)
    env: dict[str, str] = Field(default_factory=dict)
    readiness: Readiness | None = None
    memory: str | None = None
    cpu: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None


class SharedVolume(_Strict):
    """A volume shared by the steps of a root workflow (kept as metadata)."""

    mount_path: str = "/workspace"
    size: str | None = None


class ScheduleSpec(_Strict):
    """A schedule on which ``wfe serve`` starts the workflow: ``cron`` or ``every``, not both."""

    id: str | None = Field(
        None, description="The schedule id (default: the workflow id, then '{id}-2', ... for the next ones)."
    )
    cron: str | None = Field(None, description="A cron expression, e.g. '0 3 * * *' (03:00 every day).")
    every: Duration | None = Field(None, description="A fixed interval, e.g. '15m'.")
    timezone: str = Field("UTC", description="The IANA timezone the cron expression is read in.")
    overlap: Literal["skip", "allow", "terminate_previous"] = Field(
        "skip", description="What a tick does while the previous run has not ended."
    )
    catch_up: Literal["latest", "all", "none"] = Field(
        "latest", description="Which ticks missed while every host was down run."
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="The inputs of each run.")

    _every = field_validator("every")(_check_duration)

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise ConfigurationError(
                "a schedule needs exactly one of cron (e.g. '0 3 * * *') or every (e.g. '15m')"
            )
        return self


TriggerEvent = Literal["push", "tag", "pull_request"]


class TriggerSpec(BaseModel):
    """When a webhook event starts the workflow: glob patterns of branch (push, and a pull request's base
    branch) or tag names; none means any."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    branches: list[str] = Field(
        default_factory=_empty_list, description="Branch name globs, e.g. main, release/*."
    )
    tags: list[str] = Field(
        default_factory=_empty_list, description="Tag name globs (the tag event), e.g. v*."
    )


class WorkflowSpec(BaseModel):
    """One workflow. Keys starting with ``_`` are allowed and ignored (they hold anchors)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)

    id: str = Field(description="The workflow's id (slug).")
    version: int = Field(ge=0, description="The workflow's version.")
    name: str | None = Field(None, description="Display name (defaults to the id).")
    description: str | None = None
    error_behavior: ErrorBehaviorSpec | None = Field(None, description="Default for every step.")
    inputs: dict[str, str] = Field(default_factory=dict, description="Typed inputs: name -> type string.")
    outputs: dict[str, str] = Field(default_factory=dict, description="Typed outputs: name -> type string.")
    steps: list[StepSpec] = Field(description="The steps, run in order.")
    services: dict[str, ServiceSpec] = Field(
        default_factory=dict, description="Declared services (metadata)."
    )
    shared_volume: SharedVolume | None = None
    schedule: list[ScheduleSpec] = Field(
        default_factory=_empty_list, description="Schedules on which `wfe serve` starts the workflow."
    )
    on: dict[TriggerEvent, TriggerSpec | None] | None = Field(
        None,
        description="Webhook triggers (wfe serve --http): start this workflow on a push to a branch, a tag "
        "pushed, or a pull request, e.g. {push: {branches: [main]}}; see docs/server.md.",
    )

    @property
    def display_name(self) -> str:
        return self.name or self.id


class WorkflowFile(BaseModel):
    """A workflow file: ``workflow:`` (one) or ``workflows:`` (a list), optional ``include:`` paths; other
    keys (such as ``_templates``) may hold anchors."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    workflow: WorkflowSpec | None = None
    workflows: list[WorkflowSpec] | None = None
    include: list[str] = Field(
        default_factory=_empty_list, description="Files whose workflows are added (relative)."
    )
