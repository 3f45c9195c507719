"""Built-in steps: containers, waits, delays, activities, sub-workflows."""

from wfe_core.primitives.activity import Activity
from wfe_core.primitives.container import ContainerStep
from wfe_core.primitives.decide import Decide
from wfe_core.primitives.delay import Delay
from wfe_core.primitives.end_workflow import EndWorkflow
from wfe_core.primitives.foreach import ForEach
from wfe_core.primitives.if_step import If
from wfe_core.primitives.inline import InlineStep
from wfe_core.primitives.outcome_switch import OutcomeSwitch, When
from wfe_core.primitives.schedule import Recur, Schedule
from wfe_core.primitives.sequence import SagaContainer, Sequence
from wfe_core.primitives.sub_workflow import ChildStarter, SubWorkflow
from wfe_core.primitives.wait_for import WaitFor
from wfe_core.primitives.while_step import While

__all__ = [
    "Activity",
    "ChildStarter",
    "ContainerStep",
    "Decide",
    "Delay",
    "EndWorkflow",
    "ForEach",
    "If",
    "InlineStep",
    "OutcomeSwitch",
    "Recur",
    "SagaContainer",
    "Schedule",
    "Sequence",
    "SubWorkflow",
    "WaitFor",
    "When",
    "While",
]
