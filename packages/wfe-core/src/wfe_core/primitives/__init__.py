"""Built-in steps: containers, waits, delays, activities, sub-workflows, HTTP polling."""

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
