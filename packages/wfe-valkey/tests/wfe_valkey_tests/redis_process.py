"""A private ``redis-server`` for one test, on a free port, that the test may shut down and start again.

It keeps nothing on disk (``--save "" --appendonly no``), so a restart loses every key, as a server without
persistence does. The shared test server is never touched.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis import exceptions as redis_errors
from redis.asyncio import Redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    """``redis-server`` on ``127.0.0.1:port`` with its files in ``directory``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        executable = shutil.which("redis-server") or shutil.which("valkey-server")
        if executable is None:
            raise RuntimeError("redis-server (or valkey-server) is not on PATH: install redis-server")
        self.executable = executable
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None
        self._starts = 0

    async def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self._starts += 1
        log = self.directory / f"redis-{self._starts}.log"
        self._process = await asyncio.create_subprocess_exec(
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(log),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(timeout):
                while True:  # polls: the server gives no other sign that it listens
                    if self._process.returncode is not None:
                        raise RuntimeError(f"redis-server exited at start; see {log}")
                    try:
                        if await client.ping():
                            return
                    except redis_errors.ConnectionError:
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Redis]:
        """A client of the server as it runs now (one made before a restart holds dead connections)."""
        client = Redis.from_url(self.url, decode_responses=True)
        try:
            yield client
        finally:
            await client.aclose()

    async def run_id(self) -> str:
        """The id the server picked when it started: a restart changes it."""
        async with self.client() as client:
            info = await client.info("server")
        return str(info["run_id"])

    async def shutdown(self, timeout: float = 10.0) -> None:
        """``SHUTDOWN NOSAVE``: the server exits at once and its data is gone."""
        assert self._process is not None
        client = Redis.from_url(self.url)
        try:
            await client.shutdown(nosave=True)
        except redis_errors.ConnectionError:
            pass  # the server closes the connection instead of answering
        finally:
            await client.aclose()
        await asyncio.wait_for(self._process.wait(), timeout)

    async def close(self) -> None:
        """Stop the server if it runs (teardown)."""
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
