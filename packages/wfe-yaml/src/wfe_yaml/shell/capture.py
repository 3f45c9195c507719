"""Reading a command's output stream: line by line to a callback, with bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

CHUNK_SIZE = 64 * 1024
MAX_LINE = 64 * 1024  # a longer line is delivered in pieces of this size
TAIL_SIZE = 4 * 1024


class StreamCapture:
    """Collects one stream: the first ``limit`` bytes, the last few KiB (for error messages), a byte
    count, and each line handed to ``on_line`` as soon as it is complete."""

    def __init__(self, limit: int, on_line: Callable[[str], None]) -> None:
        self.limit = limit
        self.on_line = on_line
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._pending = bytearray()

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
        self.tail += chunk
        if len(self.tail) > TAIL_SIZE:
            del self.tail[:-TAIL_SIZE]
        self._pending += chunk
        start = 0
        while True:
            newline = self._pending.find(b"\n", start)
            if newline < 0:
                break
            self._emit(self._pending[start:newline])
            start = newline + 1
        del self._pending[:start]
        while len(self._pending) >= MAX_LINE:
            self._emit(self._pending[:MAX_LINE])
            del self._pending[:MAX_LINE]

    def finish(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending.clear()

    def _emit(self, raw: bytes | bytearray) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        self.on_line(raw.decode("utf-8", errors="replace"))

    def text(self) -> str:
        """The kept output, with a note when the limit cut it."""
        text = self.head.decode("utf-8", errors="replace")
        if self.truncated:
            text += f"\n[output truncated: {self.total} bytes written, the first {self.limit} kept]\n"
        return text

    def tail_text(self) -> str:
        return self.tail.decode("utf-8", errors="replace").strip()

    async def drain(self, reader: asyncio.StreamReader) -> None:
        """Read ``reader`` to its end."""
        while True:
            chunk = await reader.read(CHUNK_SIZE)
            if not chunk:
                break
            self.feed(chunk)
        self.finish()
