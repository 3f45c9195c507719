"""A TCP proxy to the test server that can turn its open connections into black holes.

A black-holed connection stays open but carries nothing either way, like a connection whose NAT entry was
dropped or whose server failed over behind the same address: no reset, no error, just silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class BlackholeProxy:
    """Forwards ``127.0.0.1:<port>`` to the server of ``upstream_url``."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = parts
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._server: asyncio.Server | None = None
        self._connections: list[_Connection] = []
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        """The upstream URL with host and port replaced by the proxy's."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        netloc = self._upstream_url.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(self._upstream_url._replace(netloc=f"{userinfo}127.0.0.1:{port}"))

    def blackhole_open_connections(self) -> int:
        """Silence every connection open now; connections made later work. Returns how many were silenced."""
        open_now = [c for c in self._connections if not c.silenced]
        for connection in open_now:
            connection.silenced = True
        return len(open_now)

    async def stop(self) -> None:
        """Close every connection, silenced or not, and stop listening."""
        for connection in self._connections:
            connection.close()
        for pump in self._pumps:
            pump.cancel()
        if self._pumps:
            await asyncio.wait(self._pumps)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        connection = _Connection(writer, up_writer)
        self._connections.append(connection)
        pumps = {
            asyncio.create_task(connection.pump(reader, up_writer)),
            asyncio.create_task(connection.pump(up_reader, writer)),
        }
        self._pumps |= pumps
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        connection.close()


class _Connection:
    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.silenced = False
        self._writers = (client, upstream)

    async def pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(65536):
                if not self.silenced:
                    sink.write(chunk)
                    await sink.drain()

    def close(self) -> None:
        for writer in self._writers:
            with contextlib.suppress(Exception):
                writer.close()
