"""The artifact store conformance suite against LocalArtifactStore, plus its URL and folder handling."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wfe import LocalArtifactStore
from wfe_core.errors import ArtifactError
from wfe_core.testing import ArtifactStoreSuite


class TestLocalArtifactStore(ArtifactStoreSuite):
    @pytest.fixture
    async def artifact_store(self, tmp_path: Path) -> AsyncIterator[LocalArtifactStore]:
        store = LocalArtifactStore(tmp_path / "store")
        await store.start()
        yield store
        await store.close()


def test_from_url_takes_a_file_url_or_a_folder(tmp_path: Path) -> None:
    assert LocalArtifactStore.from_url(f"file://{tmp_path}/a").root == tmp_path / "a"
    assert LocalArtifactStore.from_url(str(tmp_path / "b")).root == tmp_path / "b"


def test_from_url_refuses_other_schemes_naming_the_fix() -> None:
    with pytest.raises(ArtifactError, match="file:///absolute/folder"):
        LocalArtifactStore.from_url("s3://bucket/artifacts")


async def test_a_temporary_store_removes_its_folder_on_close(tmp_path: Path) -> None:
    store = LocalArtifactStore.in_temporary_folder()
    await store.start()
    source = tmp_path / "f"
    source.write_text("x")
    await store.put("wf", "f", source)
    assert store.root.is_dir()
    await store.close()
    assert not store.root.exists()


async def test_names_never_become_paths_in_the_store(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    await store.start()
    source = tmp_path / "f"
    source.write_text("x")
    await store.put("../wf", "../../../escape", source)
    files = [p.relative_to(tmp_path / "store") for p in (tmp_path / "store").rglob("*")]
    assert all(".." not in p.parts and "escape" not in str(p) for p in files)
    assert not (tmp_path / "escape").exists()
    await store.close()


async def test_files_a_crashed_write_left_are_removed_when_a_day_old(tmp_path: Path) -> None:
    tmp = tmp_path / "store" / "tmp"
    tmp.mkdir(parents=True)
    (tmp / "old.part").write_text("interrupted")
    (tmp / "new.part").write_text("in progress elsewhere")
    day_ago = time.time() - 25 * 3600
    os.utime(tmp / "old.part", (day_ago, day_ago))
    store = LocalArtifactStore(tmp_path / "store")
    source = tmp_path / "f"
    source.write_text("x")
    await store.put("wf", "f", source)
    assert sorted(os.listdir(tmp)) == ["new.part"]
