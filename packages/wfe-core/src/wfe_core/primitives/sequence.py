"""Sequence: runs the entry of every branch at once (``parallel().do(...).do(...)``, sagas, compensation
sequences) and proceeds when all have ended."""

from __future__ import annotations

from wfe_core.primitives.container import ContainerStep


class Sequence(ContainerStep):
    """A container whose branches all start together."""


class SagaContainer(ContainerStep):
    """A saga: on failure of a step inside, completed steps are compensated in reverse order."""
