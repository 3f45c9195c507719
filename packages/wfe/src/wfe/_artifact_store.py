"""LocalArtifactStore: the file-system ArtifactStore (content addressed by sha256, atomic, names never paths).

Layout under the store's folder::

    blobs/sha256/<hex>                        content: a file's bytes, or a directory tree's archive
    index/<sha256(workflow id)>/<sha256(name)>.json
                                              {"workflow_id", "name", "digest", "kind", "size"}
    tmp/                                      files being written (renamed into place with os.replace)
    .lock                                     taken (flock) while content and index change together

A tree is stored as a deterministic archive (see ``wfe._artifact_tree``): an uncompressed pax tar of its entries,
sorted, times, owners and permission bits other than "executable" cleared, so a tree has one digest.
Regular files, directories and symbolic links are kept; other entries (sockets, devices, fifos) are skipped.
Extraction uses tarfile's ``data`` filter: no entry or link can land outside the destination.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from wfe._artifact_tree import copy_hashing, write_tree
from wfe_core.errors import ArtifactError, ArtifactNotFoundError
from wfe_core.models import ArtifactRef

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: one process per store folder
    fcntl = None  # type: ignore[assignment]

STALE_TEMPORARY_SECONDS = 24 * 3600


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ArtifactError(f"artifact name {name!r} must be a non-empty string without NUL characters")


class LocalArtifactStore:
    """An ``ArtifactStore`` in a folder: ``LocalArtifactStore("/var/lib/wfe/artifacts")``, or by URL
    ``LocalArtifactStore.from_url("file:///var/lib/wfe/artifacts")``. Several processes on one machine may
    share the folder. ``LocalArtifactStore.in_temporary_folder()`` makes one in a fresh temporary folder that
    ``close()`` removes."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, temporary: bool = False) -> None:
        """Keep artifacts in the folder ``root`` (made at the first write). Without ``root``, in a temporary
        folder made when first needed; ``temporary=True`` removes the folder on ``close()``."""
        self._root = None if root is None else Path(root).absolute()
        self.temporary = temporary or root is None
        self._thread_lock = threading.RLock()
        self._created = False

    @property
    def root(self) -> Path:
        """The store's folder."""
        if self._root is None:
            with self._thread_lock:
                if self._root is None:
                    self._root = Path(tempfile.mkdtemp(prefix="wfe-artifacts-"))
        return self._root

    @property
    def _blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def _index(self) -> Path:
        return self.root / "index"

    @property
    def _tmp(self) -> Path:
        return self.root / "tmp"

    @classmethod
    def from_url(cls, url: str) -> LocalArtifactStore:
        """``file:///absolute/folder`` or ``file://relative/folder`` (or a plain path)."""
        if "://" not in url:
            return cls(url)
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise ArtifactError(
                f"artifact store URL {url!r} is not a file:// URL: use file:///absolute/folder, or pass an "
                "ArtifactStore object to use_artifact_store"
            )
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ArtifactError(f"artifact store URL {url!r} names no folder: use file:///absolute/folder")
        return cls(path)

    @classmethod
    def in_temporary_folder(cls) -> LocalArtifactStore:
        """A store in a new temporary folder, removed by ``close()``."""
        return cls(None, temporary=True)

    def __repr__(self) -> str:
        where = "a temporary folder" if self._root is None else repr(str(self._root))
        return f"LocalArtifactStore({where})"

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to connect: the folders are made at the first write."""

    async def close(self) -> None:
        if self.temporary and self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._created = False

    # -- the protocol ---------------------------------------------------------------------------------------

    async def put(self, workflow_id: str, name: str, source: Path) -> ArtifactRef:
        _check_name(name)
        return await asyncio.to_thread(self._put, workflow_id, name, Path(source))

    async def get(self, workflow_id: str, name: str) -> ArtifactRef | None:
        _check_name(name)
        return await asyncio.to_thread(self._get, workflow_id, name)

    async def list(self, workflow_id: str) -> dict[str, ArtifactRef]:
        return await asyncio.to_thread(self._list, workflow_id)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self._exists, digest)

    async def fetch(self, ref: ArtifactRef, destination: Path) -> Path:
        return await asyncio.to_thread(self._fetch, ref, Path(destination))

    async def delete_workflow(self, workflow_id: str) -> int:
        return await asyncio.to_thread(self._delete_workflow, workflow_id)

    async def workflow_ids(self) -> builtins.list[str]:
        return await asyncio.to_thread(self._workflow_ids)

    # -- implementation (worker threads) --------------------------------------------------------------------

    def _ensure(self) -> None:
        if not self._created:
            for folder in (self._blobs, self._index, self._tmp):
                folder.mkdir(parents=True, exist_ok=True)
            self._created = True
            self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Remove what writes interrupted by a crash left in ``tmp/`` (older than a day, so never a write in
        progress in another process)."""
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for entry in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                if entry.lstat().st_mtime < cutoff:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Excludes other threads and processes while content and index change together."""
        with self._thread_lock, open(self.root / ".lock", "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _temp_path(self) -> Path:
        return self._tmp / f"{uuid.uuid4().hex}.part"

    def _put(self, workflow_id: str, name: str, source: Path) -> ArtifactRef:
        self._ensure()
        try:
            info = source.stat()  # follows a link that is the source itself
        except OSError as exc:
            raise ArtifactError(f"cannot store artifact {name!r}: {source} cannot be read ({exc})") from exc
        temp = self._temp_path()
        try:
            if stat.S_ISDIR(info.st_mode):
                kind = "tree"
                digest, size = write_tree(source.resolve(), temp)
            elif stat.S_ISREG(info.st_mode):
                kind = "file"
                digest, size = copy_hashing(source, temp)
            else:
                raise ArtifactError(
                    f"cannot store artifact {name!r}: {source} is neither a regular file nor a directory"
                )
            ref = ArtifactRef(f"sha256:{digest}", kind, size)  # type: ignore[arg-type]
            entry = {"workflow_id": workflow_id, "name": name, **_ref_fields(ref)}
            with self._locked():
                blob = self._blobs / digest
                if blob.exists():
                    temp.unlink()
                else:
                    os.replace(temp, blob)
                folder = self._index / _key(workflow_id)
                folder.mkdir(exist_ok=True)
                self._write_json(folder / f"{_key(name)}.json", entry)
            return ref
        except OSError as exc:
            raise ArtifactError(f"cannot store artifact {name!r} from {source}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def _write_json(self, path: Path, value: dict[str, Any]) -> None:
        temp = self._temp_path()
        with open(temp, "w", encoding="utf-8") as file:
            json.dump(value, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)

    def _entries(self, folder: Path) -> Iterator[dict[str, Any]]:
        try:
            files = builtins.list(folder.iterdir())
        except FileNotFoundError:
            return
        for path in files:
            if path.suffix != ".json":
                continue
            try:
                with open(path, encoding="utf-8") as file:
                    yield json.load(file)
            except (FileNotFoundError, json.JSONDecodeError):
                continue  # removed (or being replaced) meanwhile

    def _get(self, workflow_id: str, name: str) -> ArtifactRef | None:
        path = self._index / _key(workflow_id) / f"{_key(name)}.json"
        try:
            with open(path, encoding="utf-8") as file:
                return _ref_of(json.load(file))
        except FileNotFoundError:
            return None

    def _list(self, workflow_id: str) -> dict[str, ArtifactRef]:
        entries = self._entries(self._index / _key(workflow_id))
        return {entry["name"]: _ref_of(entry) for entry in sorted(entries, key=lambda e: str(e["name"]))}

    def _exists(self, digest: str) -> bool:
        try:
            hex_digest = ArtifactRef(digest, "file", 0).hex
        except ValueError:
            return False
        return (self._blobs / hex_digest).is_file()

    def _fetch(self, ref: ArtifactRef, destination: Path) -> Path:
        blob = self._blobs / ref.hex
        try:
            if ref.kind == "file":
                destination.parent.mkdir(parents=True, exist_ok=True)
                temp = destination.parent / f".{destination.name}.{uuid.uuid4().hex}.part"
                try:
                    shutil.copyfile(blob, temp)
                    os.replace(temp, destination)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        temp.unlink()
            else:
                destination.mkdir(parents=True, exist_ok=True)
                with tarfile.open(blob, "r:") as archive:
                    archive.extractall(destination, filter="data")
        except FileNotFoundError as exc:
            if not blob.exists():
                raise ArtifactNotFoundError(f"artifact content {ref.digest} is not in {self!r}") from exc
            raise ArtifactError(f"cannot write artifact {ref.digest} at {destination}: {exc}") from exc
        except (OSError, tarfile.TarError) as exc:
            raise ArtifactError(f"cannot write artifact {ref.digest} at {destination}: {exc}") from exc
        return destination

    def _delete_workflow(self, workflow_id: str) -> int:
        self._ensure()
        folder = self._index / _key(workflow_id)
        with self._locked():
            removed = builtins.list(self._entries(folder))
            if not folder.exists():
                return 0
            trash = self._tmp / f"{uuid.uuid4().hex}.trash"
            os.replace(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
            candidates = {ArtifactRef(e["digest"], e["kind"], e["size"]).hex for e in removed}
            if candidates:
                for other in self._index.iterdir():
                    for entry in self._entries(other):
                        candidates.discard(ArtifactRef(entry["digest"], entry["kind"], entry["size"]).hex)
                for hex_digest in candidates:
                    with contextlib.suppress(FileNotFoundError):
                        (self._blobs / hex_digest).unlink()
        return len(removed)

    def _workflow_ids(self) -> builtins.list[str]:
        ids: builtins.list[str] = []
        try:
            folders = builtins.list(self._index.iterdir())
        except FileNotFoundError:
            return ids
        for folder in folders:
            for entry in self._entries(folder):
                ids.append(str(entry["workflow_id"]))
                break
        return sorted(ids)


def _ref_fields(ref: ArtifactRef) -> dict[str, Any]:
    return {"digest": ref.digest, "kind": ref.kind, "size": ref.size}


def _ref_of(entry: dict[str, Any]) -> ArtifactRef:
    return ArtifactRef(entry["digest"], entry["kind"], int(entry["size"]))
