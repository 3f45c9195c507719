"""The pipeline a run was started with: its files (the main file and its includes, as read) and its variables.

``wfe run`` records what it loaded and keeps it in the store, so a run is bound to the exact pipeline it started
with: ``wfe resume`` replays the recording instead of reading the files again, and says so when they changed
on disk. In the store a recording is an already-processed event named ``wfe.pipeline`` keyed by its digest
(no host ever delivers it), and a run names it in its ``reference``:
``wfe-pipeline:<digest>/<token>``, where the token is the ``wfe run`` process's own (its host runs only the
runs that carry it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wfe_core.models import Event, WorkflowInstance, WorkflowStatus
from wfe_core.protocols import PersistenceProvider

PIPELINE_EVENT = "wfe.pipeline"
# A recording is dated far ahead so that a host's retention (which purges processed events by age) keeps it
# for as long as a run may be resumed.
KEEP_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)
SINCE = datetime(1970, 1, 1, tzinfo=UTC)
_REFERENCE = re.compile(r"^wfe-pipeline:(?P<digest>[0-9a-f]{64})/(?P<token>[0-9a-f]+)$")
UNFINISHED = (WorkflowStatus.RUNNABLE, WorkflowStatus.SUSPENDED)


def _key(path: Path) -> str:
    return os.path.abspath(path)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A pipeline as loaded: the main file's absolute path, every file's text by absolute path, the vars."""

    path: str
    files: dict[str, str]
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The identity of the pipeline: a hash of the file contents, their paths and the vars."""
        canonical = json.dumps(
            {"path": self.path, "files": self.files, "vars": self.vars}, sort_keys=True, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def read(self, path: Path) -> str:
        """A loader reader that replays the recording (a file it does not hold is missing)."""
        try:
            return self.files[_key(path)]
        except KeyError:
            raise FileNotFoundError(f"{path} is not part of the recorded pipeline") from None

    def changed_on_disk(self) -> list[str]:
        """The recorded files that differ on disk now (or are gone), main file first."""
        changed = []
        for path, text in self.files.items():
            try:
                now = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                now = None
            if now != text:
                changed.append(path)
        return changed

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "files": self.files, "vars": self.vars}

    @classmethod
    def from_json(cls, raw: Any) -> Pipeline:
        return cls(path=raw["path"], files=dict(raw["files"]), vars=dict(raw.get("vars") or {}))


class Recorder:
    """A loader reader that reads the files from disk and keeps what it read."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def __call__(self, path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        self.files[_key(path)] = text
        return text

    def pipeline(self, main: Path, variables: dict[str, Any]) -> Pipeline:
        return Pipeline(path=_key(main), files=dict(self.files), vars=variables)


def new_reference(pipeline: Pipeline) -> str:
    """The reference of a run started now by this process with ``pipeline``."""
    return f"wfe-pipeline:{pipeline.digest}/{uuid.uuid4().hex}"


def digest_of(instance: WorkflowInstance) -> str | None:
    """The digest of the pipeline a run was started with, or None for a run ``wfe run`` did not start."""
    match = _REFERENCE.match(instance.reference or "")
    return None if match is None else match["digest"]


def own_runs(reference: str | None = None, ids: set[str] | None = None) -> Callable[[WorkflowInstance], bool]:
    """A host's ``accept``: the run carrying ``reference`` or with an id in ``ids``, and their sub-workflows."""
    mine: set[str] = set(ids or ())

    def accept(instance: WorkflowInstance) -> bool:
        if instance.id in mine or instance.root_workflow_id in mine:
            return True
        if reference is not None and instance.reference == reference:
            mine.add(instance.id)
            return True
        return False

    return accept


async def save(persistence: PersistenceProvider, pipeline: Pipeline) -> None:
    """Keep the recording in the store (once per digest)."""
    digest = pipeline.digest
    if await persistence.get_events(PIPELINE_EVENT, digest, SINCE):
        return
    await persistence.create_event(
        Event(
            event_name=PIPELINE_EVENT,
            event_key=digest,
            event_data=pipeline.to_json(),
            event_time=KEEP_UNTIL,
            is_processed=True,
        )
    )


async def recorded(persistence: PersistenceProvider, instance: WorkflowInstance) -> Pipeline | None:
    """The pipeline the run was started with, or None when the store holds none for it."""
    digest = digest_of(instance)
    return None if digest is None else await recording(persistence, digest)


async def recording(persistence: PersistenceProvider, digest: str) -> Pipeline | None:
    """The recorded pipeline with this digest, or None."""
    for event_id in await persistence.get_events(PIPELINE_EVENT, digest, SINCE):
        event = await persistence.get_event(event_id)
        return Pipeline.from_json(event.event_data)
    return None


async def unfinished_runs(
    persistence: PersistenceProvider, pipeline: Pipeline, definition_id: str
) -> list[tuple[WorkflowInstance, Pipeline]]:
    """Runs of the same pipeline file and workflow that have not ended (oldest first), with their pipelines."""
    found: list[tuple[WorkflowInstance, Pipeline]] = []
    for status in UNFINISHED:
        for instance in await persistence.list_workflows(status=status, definition_id=definition_id):
            if instance.parent_workflow_id is not None:
                continue
            theirs = await recorded(persistence, instance)
            if theirs is not None and theirs.path == pipeline.path:
                found.append((instance, theirs))
    found.sort(key=lambda pair: pair[0].create_time)
    return found
