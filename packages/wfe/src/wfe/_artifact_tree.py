"""The content of LocalArtifactStore: a file copied while hashed, a directory tree written as a deterministic
archive (an uncompressed pax tar: entries sorted, times and owners cleared, permission bits reduced to
"executable or not"; regular files, folders and symbolic links kept, hard links as copies, other entries
skipped), so the same content always has the same sha256 digest."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024


def copy_hashing(source: Path, temp: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader, open(temp, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def tell(self) -> int:
        return self.size


def _tree_entries(root: Path) -> Iterator[tuple[str, Path]]:
    """Every entry below ``root`` as (archive name, path), sorted, without following links."""
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as scan:
            children = sorted(scan, key=lambda entry: entry.name)
        for child in children:
            name = f"{prefix}{child.name}"
            yield name, Path(child.path)
        for child in reversed(children):
            if child.is_dir(follow_symlinks=False):
                stack.append((f"{prefix}{child.name}/", Path(child.path)))


def _tar_info(name: str, path: Path, mode: int, size: int) -> tarfile.TarInfo | None:
    """The normalised archive entry of ``path`` (times, owners and permissions cleared but "executable"), or
    None for an entry that is not a file, a directory or a link. Hard links are stored as separate files."""
    info = tarfile.TarInfo(name)
    if stat.S_ISDIR(mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif stat.S_ISLNK(mode):
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
    elif stat.S_ISREG(mode):
        info.type, info.mode, info.size = tarfile.REGTYPE, 0o755 if mode & 0o111 else 0o644, size
    else:
        return None
    return info


def write_tree(root: Path, temp: Path) -> tuple[str, int]:
    with open(temp, "wb") as file:
        writer = _HashingWriter(file)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
            for name, path in _tree_entries(root):
                status = path.lstat()
                info = _tar_info(name, path, status.st_mode, status.st_size)
                if info is None:
                    continue
                if info.isreg():
                    with open(path, "rb") as content:
                        archive.addfile(info, content)
                else:
                    archive.addfile(info)
        file.flush()
        os.fsync(file.fileno())
    return writer.digest.hexdigest(), writer.size
