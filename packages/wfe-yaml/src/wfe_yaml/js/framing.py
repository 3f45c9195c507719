"""Length-prefixed JSON frames, the wire format between the parent and a JavaScript worker process.

Each frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON (one object).
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, BinaryIO

MAX_FRAME_BYTES = 256 * 1024 * 1024
"""Larger frames mean a broken peer; the reader refuses them rather than allocating."""

_HEADER = struct.Struct(">I")


class FrameError(Exception):
    """The peer closed the pipe or sent something that is not a frame."""


def encode_frame(message: dict[str, Any]) -> bytes:
    """One frame holding ``message``."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"message of {len(body)} bytes exceeds the {MAX_FRAME_BYTES}-byte frame limit")
    return _HEADER.pack(len(body)) + body


def _decode(body: bytes) -> dict[str, Any]:
    message = json.loads(body)
    if not isinstance(message, dict):
        raise FrameError("frame does not hold a JSON object")
    return message


def read_frame_sync(stream: BinaryIO) -> dict[str, Any]:
    """Read one frame from a blocking binary stream; ``FrameError`` at end of stream."""
    header = _read_exactly(stream, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {size} bytes exceeds the limit")
    return _decode(_read_exactly(stream, size))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise FrameError("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """Read one frame from an asyncio stream; ``FrameError`` at end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME_BYTES:
            raise FrameError(f"frame of {size} bytes exceeds the limit")
        return _decode(await reader.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        raise FrameError("pipe closed") from exc
