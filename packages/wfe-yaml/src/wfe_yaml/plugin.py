"""The step-type plugin protocol: what a YAML ``type:`` resolves to through the ``wfe.steps`` entry points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from wfe_core.step import StepBody


@runtime_checkable
class StepType(Protocol):
    """A YAML step type (``shell``, ``deno``/``js``, or a third-party one).

    An entry point in the ``wfe.steps`` group named after the ``type:`` value points at a class (or factory)
    that, called with no arguments, returns an object of this protocol.

    The step bodies it creates store their results as a dict in ``self.outputs`` before returning
    ``ExecutionResult.next()``; the compiler shallow-merges ``outputs`` into the workflow data when the step
    proceeds. ``config`` is the step's ``config:`` mapping after interpolation.

    Optional extensions the loader uses when present:

    - ``config_model``: a pydantic model class (``extra="forbid"``) for ``config``. The loader validates the
      config against it first, so wrong types and unknown keys are reported at their ``file:line:column``
      with "did you mean ...?" suggestions.
    - ``artifacts(config, *, step_name) -> (produces, consumes)``: the artifact names a step of this type
      puts and reads (tuples of str), declared on the compiled step (see ``StepBuilder.produces``).
    - ``requires_config``: ``False`` when the type works without a ``config:`` section (default ``True``:
      a missing section is reported as "<Type> step 'x' must have a 'config' section").
    """

    name: str

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        """Problems with ``config``, as messages (empty when valid). Called at load time."""
        ...

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        """A fresh step body for one run of the step."""
        ...
