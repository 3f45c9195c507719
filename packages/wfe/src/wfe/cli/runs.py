"""What ``wfe resume`` needs to reload a run: one small JSON file per run under ``.wfe/runs/``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wfe.cli.state import STATE_DIR


@dataclass(slots=True)
class RunRecord:
    """A run started by ``wfe run``: where its pipeline is and how it was loaded."""

    id: str
    name: str
    pipeline: str
    """Absolute path of the YAML file."""
    workflow: str
    """The definition id that was started."""
    store: str
    vars: dict[str, Any] = field(default_factory=dict)

    def save(self, runs_dir: Path) -> Path:
        """Write the record (atomically, so a kill never leaves half a file)."""
        runs_dir.mkdir(parents=True, exist_ok=True)
        path = runs_dir / f"{self.id}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, runs_dir: Path, workflow_id: str) -> RunRecord | None:
        """The record of the run with this id, or None when this directory never started it."""
        path = runs_dir / f"{workflow_id}.json"
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            id=raw["id"],
            name=raw.get("name", ""),
            pipeline=raw["pipeline"],
            workflow=raw["workflow"],
            store=raw["store"],
            vars=dict(raw.get("vars") or {}),
        )


def runs_dir() -> Path:
    """``.wfe/runs`` under the current directory."""
    return STATE_DIR / "runs"


def find_record(directory: Path, run_id: str) -> RunRecord | None:
    """The record of a run by id, else the newest with that name, else None."""
    record = RunRecord.load(directory, run_id)
    if record is not None or not directory.is_dir():
        return record
    newest_first = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in newest_first:
        candidate = RunRecord.load(directory, path.stem)
        if candidate is not None and candidate.name == run_id:
            return candidate
    return None
