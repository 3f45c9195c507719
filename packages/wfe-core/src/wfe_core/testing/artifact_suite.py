"""ArtifactStoreSuite: the conformance tests every ``ArtifactStore`` runs against itself."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from wfe_core.errors import ArtifactError, ArtifactNotFoundError
from wfe_core.models import ArtifactRef, new_id
from wfe_core.protocols import ArtifactStore

HOSTILE_NAMES = [
    "../escape",
    "../../../../etc/passwd",
    "/etc/passwd",
    "a/b/../../c",
    "..",
    ".",
    "C:\\windows\\system32",
    "name with spaces and ünïcode ✓",
    "x" * 600,
    "~/.ssh/id_rsa",
]


class ArtifactStoreSuite:
    """Conformance tests for an ``ArtifactStore``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``artifact_store``
    that yields a started store and closes it afterwards. Each test uses workflow ids no other test uses, and
    pytest's ``tmp_path`` for its files.

    Example::

        class TestMyStore(ArtifactStoreSuite):
            @pytest.fixture
            async def artifact_store(self, tmp_path):
                store = MyStore(tmp_path / "store")
                await store.start()
                yield store
                await store.close()
    """

    pytestmark = pytest.mark.asyncio

    @staticmethod
    def workflow() -> str:
        return f"wf-{new_id()}"

    @staticmethod
    def tree(root: Path) -> Path:
        (root / "src" / "pkg").mkdir(parents=True)
        (root / "README.md").write_text("# readme\n")
        (root / "src" / "pkg" / "main.py").write_text("print('hi')\n")
        tool = root / "run.sh"
        tool.write_text("#!/bin/sh\necho run\n")
        tool.chmod(0o755)
        (root / "empty").mkdir()
        (root / "link").symlink_to("README.md")
        return root

    async def test_put_then_get_a_file_by_name(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        workflow = self.workflow()
        source = tmp_path / "report.txt"
        source.write_bytes(b"hello artifacts\n")
        ref = await artifact_store.put(workflow, "report", source)
        assert ref.kind == "file"
        assert ref.size == len(b"hello artifacts\n")
        assert await artifact_store.get(workflow, "report") == ref
        out = await artifact_store.fetch(ref, tmp_path / "out" / "copy.txt")
        assert out == tmp_path / "out" / "copy.txt"
        assert out.read_bytes() == b"hello artifacts\n"

    async def test_a_file_is_addressed_by_the_sha256_of_its_bytes(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "data.bin"
        source.write_bytes(bytes(range(256)) * 10)
        ref = await artifact_store.put(self.workflow(), "data", source)
        assert ref.digest == "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
        assert await artifact_store.exists(ref.digest)

    async def test_a_tree_round_trips_with_links_empty_folders_and_the_executable_bit(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        workflow = self.workflow()
        ref = await artifact_store.put(workflow, "checkout", self.tree(tmp_path / "tree"))
        assert ref.kind == "tree"
        out = await artifact_store.fetch(ref, tmp_path / "out")
        assert (out / "README.md").read_text() == "# readme\n"
        assert (out / "src" / "pkg" / "main.py").read_text() == "print('hi')\n"
        assert (out / "empty").is_dir()
        assert (out / "link").is_symlink() and os.readlink(out / "link") == "README.md"
        assert os.access(out / "run.sh", os.X_OK)
        assert not os.access(out / "README.md", os.X_OK)

    async def test_identical_content_gives_equal_references(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        first = await artifact_store.put(self.workflow(), "a", self.tree(tmp_path / "one"))
        second = await artifact_store.put(self.workflow(), "b", self.tree(tmp_path / "two"))
        assert first == second
        file = tmp_path / "f.txt"
        file.write_text("same")
        assert await artifact_store.put(self.workflow(), "f", file) == await artifact_store.put(
            self.workflow(), "g", file
        )

    async def test_putting_again_is_idempotent_and_a_new_content_replaces_the_name(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        workflow = self.workflow()
        source = tmp_path / "v.txt"
        source.write_text("one")
        first = await artifact_store.put(workflow, "v", source)
        assert await artifact_store.put(workflow, "v", source) == first
        assert list(await artifact_store.list(workflow)) == ["v"]
        source.write_text("two")
        second = await artifact_store.put(workflow, "v", source)
        assert second != first
        assert await artifact_store.get(workflow, "v") == second
        assert (await artifact_store.fetch(second, tmp_path / "o.txt")).read_text() == "two"

    async def test_list_holds_the_workflows_own_artifacts_only(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        mine, other = self.workflow(), self.workflow()
        source = tmp_path / "x"
        source.write_text("x")
        a = await artifact_store.put(mine, "a", source)
        b = await artifact_store.put(mine, "b", self.tree(tmp_path / "t"))
        await artifact_store.put(other, "c", source)
        assert await artifact_store.list(mine) == {"a": a, "b": b}
        assert await artifact_store.list(self.workflow()) == {}
        assert mine in await artifact_store.workflow_ids()

    async def test_missing_artifacts(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        assert await artifact_store.get(self.workflow(), "nothing") is None
        absent = ArtifactRef("sha256:" + "0" * 64, "file", 1)
        assert not await artifact_store.exists(absent.digest)
        assert not await artifact_store.exists("not a digest")
        with pytest.raises(ArtifactNotFoundError):
            await artifact_store.fetch(absent, tmp_path / "out")
        with pytest.raises(ArtifactError):
            await artifact_store.put(self.workflow(), "x", tmp_path / "does-not-exist")

    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    async def test_hostile_names_are_keys_and_never_reach_outside_the_store(
        self, artifact_store: ArtifactStore, tmp_path: Path, name: str
    ) -> None:
        workflow = self.workflow()
        source = tmp_path / "payload"
        source.write_text("payload")
        # a store may make its folders at its first write: list the test folder after one
        await artifact_store.put(workflow, "benign", source)
        await artifact_store.delete_workflow(workflow)
        before = sorted(os.listdir(tmp_path))
        ref = await artifact_store.put(workflow, name, source)
        assert await artifact_store.get(workflow, name) == ref
        assert await artifact_store.list(workflow) == {name: ref}
        assert sorted(os.listdir(tmp_path)) == before
        assert await artifact_store.get(workflow, name + "x") is None

    async def test_hostile_workflow_ids_are_keys_too(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "payload"
        source.write_text("payload")
        workflow = f"../../{new_id()}"
        ref = await artifact_store.put(workflow, "n", source)
        assert await artifact_store.list(workflow) == {"n": ref}
        assert await artifact_store.delete_workflow(workflow) == 1

    @pytest.mark.parametrize("name", ["", "a\x00b"])
    async def test_empty_names_and_nul_characters_are_refused(
        self, artifact_store: ArtifactStore, tmp_path: Path, name: str
    ) -> None:
        source = tmp_path / "payload"
        source.write_text("payload")
        with pytest.raises(ArtifactError, match="non-empty"):
            await artifact_store.put(self.workflow(), name, source)

    async def test_delete_by_workflow_removes_its_artifacts_and_keeps_shared_content(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        gone, kept = self.workflow(), self.workflow()
        shared = tmp_path / "shared"
        shared.write_text("shared")
        own = tmp_path / "own"
        own.write_text(f"own {new_id()}")
        shared_ref = await artifact_store.put(gone, "shared", shared)
        own_ref = await artifact_store.put(gone, "own", own)
        await artifact_store.put(kept, "shared", shared)
        assert await artifact_store.delete_workflow(gone) == 2
        assert await artifact_store.list(gone) == {}
        assert await artifact_store.get(gone, "own") is None
        assert gone not in await artifact_store.workflow_ids()
        assert not await artifact_store.exists(own_ref.digest)
        assert await artifact_store.exists(shared_ref.digest)
        assert (await artifact_store.fetch(shared_ref, tmp_path / "again")).read_text() == "shared"
        assert await artifact_store.delete_workflow(gone) == 0

    async def test_a_tree_whose_archive_would_escape_is_not_a_risk_on_fetch(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A link pointing outside the tree is stored as a link; fetching refuses to write through it."""
        root = tmp_path / "tree"
        root.mkdir()
        (root / "outside").symlink_to("../../../../../../tmp")
        (root / "file").write_text("x")
        ref = await artifact_store.put(self.workflow(), "t", root)
        out = tmp_path / "out"
        try:
            await artifact_store.fetch(ref, out)
        except ArtifactError:
            return  # refused: fine
        assert (out / "file").read_text() == "x"
        assert not (out / "outside").exists() or (out / "outside").is_symlink()
