"""ArtifactStore: files and directory trees that steps produce and consume, kept per workflow instance."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Protocol, runtime_checkable

from wfe_core.models.artifact import ArtifactRef


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed storage of artifacts, named per workflow instance.

    Content is stored once per digest (``sha256:<hex>`` of a file's bytes, or of a directory tree's archive);
    an index maps ``(workflow_id, name)`` to an :class:`ArtifactRef`. Names are keys of that index and never
    paths: any non-empty string without NUL characters is a valid name (``../x`` included) and can never
    reach outside the store. Writes are atomic: a reader sees the old artifact or the new one, never a part.
    """

    async def start(self) -> None:
        """Create the store if needed; idempotent."""

    async def close(self) -> None:
        """Release what the store holds (a temporary store removes its folder); idempotent."""

    async def put(self, workflow_id: str, name: str, source: Path) -> ArtifactRef:
        """Store the file or directory tree at ``source`` as artifact ``name`` of the workflow, replacing an
        artifact of that name. Putting identical content again returns an equal reference and stores nothing
        new. Symbolic links inside a tree are kept as links; a link that is ``source`` itself is followed.
        ``ArtifactError`` when ``source`` does not exist or the name is empty or holds a NUL character."""

    async def get(self, workflow_id: str, name: str) -> ArtifactRef | None:
        """The reference of the workflow's artifact ``name``; None when there is none."""

    async def list(self, workflow_id: str) -> dict[str, ArtifactRef]:
        """The workflow's artifacts by name (empty when it has none)."""

    async def exists(self, digest: str) -> bool:
        """Whether content with this digest is stored."""

    async def fetch(self, ref: ArtifactRef, destination: Path) -> Path:
        """Write the content of ``ref`` at ``destination`` and return it: a file artifact becomes that file, a
        tree artifact is extracted into that directory (created if needed; entries that would land outside it
        are refused). ``ArtifactNotFoundError`` when the content is not stored."""

    async def delete_workflow(self, workflow_id: str) -> int:
        """Remove every artifact of the workflow, and the content no other workflow's artifact refers to;
        return how many artifacts were removed (0 for a workflow without any)."""

    async def workflow_ids(self) -> builtins.list[str]:
        """The ids of the workflows that have artifacts (for removing those of purged instances)."""
