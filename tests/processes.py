"""A real `paperboy run` process for tests: a free port, stderr drained as it comes, readiness, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
# What the issue promises: SIGTERM to exit in at most this long.
STOP_LIMIT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    """A `paperboy run` process; its stderr is read as it comes, so the pipe never fills."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.stderr: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def url(self, path: str) -> str:
        """A URL of its HTTP server."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_ready(self, http: httpx.AsyncClient, within: float = 60.0) -> dict[str, Any]:
        """Wait until /readyz says ready; return its body."""
        deadline = time.monotonic() + within
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                response = await http.get(self.url("/readyz"))
                last = response.json()
                if response.status_code == 200:
                    return dict(last)
            # A real process readies itself in real time and says nothing when it does: ask again shortly.
            await asyncio.sleep(0.1)
        raise AssertionError(f"never ready (last answer {last}); stderr:\n{''.join(self.stderr)[-4000:]}")

    async def terminate(self, limit: float = STOP_LIMIT_SECONDS) -> tuple[int, float]:
        """SIGTERM; return the exit code and the seconds it took (fails past `limit`)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=limit)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"still running {limit} s after SIGTERM") from None
        await self._reader
        return code, time.monotonic() - started

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The JSON log events of one kind."""
        found = []
        for line in self.stderr:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == kind:
                    found.append(entry)
        return found

    async def kill(self) -> None:
        """Make sure it is gone."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


async def start_paperboy(cwd: Path, env: dict[str, str], *args: str) -> Running:
    """Start `paperboy` (default: `run`) with its HTTP server on env["PAPERBOY_PORT"]."""
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        *(args or ("run",)),
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Running(process, int(env["PAPERBOY_PORT"]))
