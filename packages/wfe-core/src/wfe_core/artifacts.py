"""StepArtifacts (``ctx.artifacts``): the artifacts of the running step's workflow, to put and to get."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from wfe_core.errors import ArtifactError, ArtifactNotFoundError
from wfe_core.models.artifact import ArtifactRef
from wfe_core.protocols.artifacts import ArtifactStore

T = TypeVar("T")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_for(name: str) -> str:
    """A file name made from an artifact name (letters, digits, ``._-``; never ``.`` or ``..``)."""
    cleaned = _UNSAFE.sub("_", name).strip("_")
    return cleaned if cleaned not in ("", ".", "..") else "artifact"


class StepArtifacts:
    """The artifacts of the workflow a step runs in, named per workflow instance.

    ``await ctx.artifacts.put("report", path)`` stores a file or a directory tree (a checkout) under that
    name; ``await ctx.artifacts.get("report")`` writes it into a fresh temporary folder and returns its path,
    which lasts until the step's run ends (pass ``destination`` to keep it elsewhere). A step whose ``run`` is
    a plain ``def`` (run in a worker thread) uses ``put_sync`` and ``get_sync``.

    A name is looked up among the artifacts the workflow's steps put; failing that, a top-level key of the
    workflow data holding an artifact reference (``{"__wfe_artifact": "sha256:…"}``, as the ``git-repo`` step
    type writes and as another workflow may pass in) is used.
    """

    def __init__(
        self,
        store: ArtifactStore | None,
        workflow_id: str,
        data: Callable[[], Any],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.store = store
        self.workflow_id = workflow_id
        self._data = data
        self._loop = loop
        self._temporary: list[str] = []

    def _store(self) -> ArtifactStore:
        if self.store is None:
            raise ArtifactError(
                "this step runs without an artifact store: run it on a WorkflowHost (which always has one; "
                "choose it with WorkflowHostBuilder().use_artifact_store(...))"
            )
        return self.store

    async def put(self, name: str, path: str | Path) -> ArtifactRef:
        """Store the file or directory at ``path`` as artifact ``name`` of this workflow (replacing one of
        that name) and return its reference; ``ref.to_data()`` is the form to keep in workflow data."""
        return await self._store().put(self.workflow_id, name, Path(path))

    async def ref(self, name: str) -> ArtifactRef | None:
        """The reference of artifact ``name``: one this workflow put, else one held by data key ``name``."""
        found = await self._store().get(self.workflow_id, name)
        if found is not None:
            return found
        data = self._data()
        value = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
        return ArtifactRef.from_data(value)

    async def get(self, name: str | ArtifactRef, destination: str | Path | None = None) -> Path:
        """Write artifact ``name`` (or the given reference) at ``destination`` and return the path: a file
        artifact becomes that file, a tree is extracted into that folder. Without ``destination``, a fresh
        temporary folder that is removed when the step's run ends. ``ArtifactNotFoundError`` when there is
        no such artifact."""
        ref = name if isinstance(name, ArtifactRef) else await self.ref(name)
        if ref is None:
            known = ", ".join(sorted(await self.list())) or "none"
            raise ArtifactNotFoundError(
                f"artifact {name!r} was not put by any step of workflow {self.workflow_id} and no data key of "
                f"that name holds an artifact reference (artifacts of this workflow: {known}): declare a step "
                "that puts it before the step that reads it"
            )
        if destination is None:
            folder = tempfile.mkdtemp(prefix="wfe-artifact-")
            self._temporary.append(folder)
            label = name if isinstance(name, str) else ref.hex[:12]
            target = Path(folder) / file_name_for(label) if ref.kind == "file" else Path(folder)
        else:
            target = Path(destination)
        return await self._store().fetch(ref, target)

    async def list(self) -> dict[str, ArtifactRef]:
        """The artifacts this workflow's steps put, by name."""
        return await self._store().list(self.workflow_id)

    async def require(self, names: Iterable[str]) -> None:
        """``ArtifactNotFoundError`` naming the first of ``names`` that ``get`` would not find."""
        for name in names:
            if await self.ref(name) is None:
                raise ArtifactNotFoundError(
                    f"the step consumes artifact {name!r}, which no step of workflow {self.workflow_id} put and "
                    "no data key holds: run the step that produces it first (or pass its reference in the data)"
                )

    async def check_produced(self, names: Iterable[str], step: str) -> None:
        """``ArtifactError`` naming the first of ``names`` the workflow has not stored."""
        stored = await self.list()
        for name in names:
            if name not in stored:
                raise ArtifactError(
                    f"step {step!r} declares it produces artifact {name!r} but did not put it: call "
                    f"ctx.artifacts.put({name!r}, path) in the step, or drop it from produces()"
                )

    def put_sync(self, name: str, path: str | Path) -> ArtifactRef:
        """``put`` for a step running in a worker thread (a plain ``def run``)."""
        return self._sync(self.put(name, path))

    def get_sync(self, name: str | ArtifactRef, destination: str | Path | None = None) -> Path:
        """``get`` for a step running in a worker thread (a plain ``def run``)."""
        return self._sync(self.get(name, destination))

    def _sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            coroutine.close()
            raise ArtifactError(
                "put_sync/get_sync would block the event loop: in an async step use 'await ctx.artifacts.put' "
                "and 'await ctx.artifacts.get'"
            )
        if loop is None or loop.is_closed():
            return asyncio.run(coroutine)
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    async def release(self) -> None:
        """Remove the temporary folders ``get`` made (the executor calls this when the step's run ends)."""
        if self._temporary:
            folders, self._temporary = self._temporary, []
            await asyncio.to_thread(_remove_all, folders)


def _remove_all(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
