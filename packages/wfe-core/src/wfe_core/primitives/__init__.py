"""Built-in steps: containers, waits, delays, activities, sub-workflows, HTTP polling.

The names are imported on first use (PEP 562), so a builder that uses a few of them (``wfe validate``
compiling a YAML pipeline) does not load the others (HTTP polling, its conditions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy_names import lazy_names

if TYPE_CHECKING:
    from wfe_core.primitives.activity import Activity
    from wfe_core.primitives.container import ContainerStep
    from wfe_core.primitives.decide import Decide
    from wfe_core.primitives.delay import Delay
    from wfe_core.primitives.end_workflow import EndWorkflow
    from wfe_core.primitives.foreach import ForEach
    from wfe_core.primitives.if_step import If
    from wfe_core.primitives.inline import InlineStep
    from wfe_core.primitives.outcome_switch import OutcomeSwitch, When
    from wfe_core.primitives.poll_conditions import (
        BodyContains,
        JsonPathCondition,
        PollCondition,
        PollResponse,
        StatusIn,
    )
    from wfe_core.primitives.poll_endpoint import PollEndpoint, PollEndpointConfig
    from wfe_core.primitives.schedule import Recur, Schedule
    from wfe_core.primitives.sequence import SagaContainer, Sequence
    from wfe_core.primitives.sub_workflow import ChildStarter, SubWorkflow
    from wfe_core.primitives.wait_for import WaitFor
    from wfe_core.primitives.while_step import While

_MODULES: dict[str, tuple[str, ...]] = {
    "activity": ("Activity",),
    "container": ("ContainerStep",),
    "decide": ("Decide",),
    "delay": ("Delay",),
    "end_workflow": ("EndWorkflow",),
    "foreach": ("ForEach",),
    "if_step": ("If",),
    "inline": ("InlineStep",),
    "outcome_switch": ("OutcomeSwitch", "When"),
    "poll_conditions": ("BodyContains", "JsonPathCondition", "PollCondition", "PollResponse", "StatusIn"),
    "poll_endpoint": ("PollEndpoint", "PollEndpointConfig"),
    "schedule": ("Recur", "Schedule"),
    "sequence": ("SagaContainer", "Sequence"),
    "sub_workflow": ("ChildStarter", "SubWorkflow"),
    "wait_for": ("WaitFor",),
    "while_step": ("While",),
}
"""Submodule (of this package) -> the names it gives this package."""

_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "Activity",
    "BodyContains",
    "ChildStarter",
    "ContainerStep",
    "Decide",
    "Delay",
    "EndWorkflow",
    "ForEach",
    "If",
    "InlineStep",
    "JsonPathCondition",
    "OutcomeSwitch",
    "PollCondition",
    "PollEndpoint",
    "PollEndpointConfig",
    "PollResponse",
    "Recur",
    "SagaContainer",
    "Schedule",
    "Sequence",
    "StatusIn",
    "SubWorkflow",
    "WaitFor",
    "When",
    "While",
]


__getattr__, __dir__ = lazy_names("wfe_core.primitives", _WHERE, globals(), prefix="wfe_core.primitives.")
