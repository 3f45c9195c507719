"""A new database file, and the write-ahead log and shared memory SQLite creates beside it, are readable by
their owner only: they hold all workflow data and step output."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_sqlite import SqlitePersistence


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in sorted(folder.iterdir())}


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual umask, under which SQLite alone creates 0644 files
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
async def test_new_database_files_are_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "wfe.db"
    persistence = SqlitePersistence.from_url(f"sqlite:///{path}")
    try:
        await persistence.ensure_store_exists()
        await persistence.create_workflow(
            WorkflowInstance(
                workflow_definition_id="secret",
                version=1,
                create_time=datetime.now(UTC),
                data={"token": "s3cret"},
                execution_pointers=[ExecutionPointer(step_id=0)],
            )
        )
        assert modes(tmp_path) == {"wfe.db": 0o600, "wfe.db-shm": 0o600, "wfe.db-wal": 0o600}
    finally:
        await persistence.close()


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_file_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    persistence = SqlitePersistence.from_url(f"sqlite:///{path}")
    try:
        await persistence.ensure_store_exists()
    finally:
        await persistence.close()
    assert mode(path) == 0o640


async def test_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    persistence = SqlitePersistence.from_url(f"sqlite:///{tmp_path}/absent/wfe.db")
    try:
        with pytest.raises(FileNotFoundError, match="absent/wfe.db"):
            await persistence.ensure_store_exists()
    finally:
        await persistence.close()
