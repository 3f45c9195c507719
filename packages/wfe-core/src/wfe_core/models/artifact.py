"""ArtifactRef: what an artifact store returns for stored content, and its form in workflow data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from wfe_core.errors import WorkflowDataError

ARTIFACT_KEY = "__wfe_artifact"
"""The key marking an artifact reference in workflow data: ``{"__wfe_artifact": "sha256:…", ...}``."""

ArtifactKind = Literal["file", "tree"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """Stored content: its ``sha256:<hex>`` digest, whether it is one file or a directory tree, and its size in
    bytes (of the file, or of the tree's archive)."""

    digest: str
    kind: ArtifactKind
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.digest, str) or not _DIGEST.fullmatch(self.digest):
            raise WorkflowDataError(
                f"{self.digest!r} is not an artifact digest: expected 'sha256:' and 64 hex digits"
            )
        if self.kind not in ("file", "tree"):
            raise WorkflowDataError(f"artifact kind {self.kind!r} is neither 'file' nor 'tree'")

    @property
    def hex(self) -> str:
        """The digest without its ``sha256:`` prefix."""
        return self.digest.split(":", 1)[1]

    def to_data(self) -> dict[str, Any]:
        """The reference as workflow data (JSON): ``{"__wfe_artifact": digest, "kind": ..., "size": ...}``."""
        return {ARTIFACT_KEY: self.digest, "kind": self.kind, "size": self.size}

    @classmethod
    def from_data(cls, value: Any) -> ArtifactRef | None:
        """The reference held by a data value made by ``to_data`` (the Rust WFE's ``{"__wfe_artifact": d}``
        reads as a tree), or None when ``value`` is not an artifact reference."""
        if not isinstance(value, dict) or not isinstance(value.get(ARTIFACT_KEY), str):
            return None
        kind = value.get("kind", "tree")
        size = value.get("size", 0)
        try:
            return cls(value[ARTIFACT_KEY], kind, size if isinstance(size, int) else 0)
        except ValueError:
            return None


def is_artifact_data(value: Any) -> bool:
    """Whether a workflow data value is an artifact reference."""
    return isinstance(value, dict) and ARTIFACT_KEY in value
