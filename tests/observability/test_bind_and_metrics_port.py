"""`paperboy run` listens where PAPERBOY_HOST says, and with PAPERBOY_METRICS_PORT serves /metrics only there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import httpx
import pytest

from storage.sql import open_store
from tests.processes import PAPERBOY, Running, free_port

pytestmark = pytest.mark.slow

# Another loopback address: whatever listens only on it is unreachable through 127.0.0.1.
HOST = "127.0.0.2"


async def wait_until_ready(http: httpx.AsyncClient, url: str, running: Running) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and running.process.returncode is None:
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get(url)).status_code == 200:
                return
        # A real process readies itself in real time and says nothing when it does: ask again shortly.
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready; stderr:\n{''.join(running.stderr)[-4000:]}")


async def test_the_bind_address_and_a_separate_metrics_port(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    public, private = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
            "PAPERBOY_SERVE_HTTP": "true",
            "PAPERBOY_HOST": HOST,
            "PAPERBOY_PORT": str(public),
            "PAPERBOY_METRICS_PORT": str(private),
            "PAPERBOY_REFRESH_MINUTES": "0",
            "HF_API_URL": closed,
            "ARXIV_API_URL": closed,
        }
    )
    await (await open_store(env["DATABASE_URL"])).close()  # a migrated store, as `paperboy run` expects
    # No chat platform: the console runs beside the HTTP ports, and stays up while its stdin is open.
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        "run",
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Running(process, public)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await wait_until_ready(http, f"http://{HOST}:{public}/readyz", running)
            public_metrics = await http.get(f"http://{HOST}:{public}/metrics")
            public_health = await http.get(f"http://{HOST}:{public}/healthz")
            private_metrics = await http.get(f"http://{HOST}:{private}/metrics")
            private_ready = await http.get(f"http://{HOST}:{private}/readyz")
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{public}/healthz")
        code, _seconds = await running.terminate()
    finally:
        await running.kill()

    assert public_health.status_code == 200
    assert public_metrics.status_code == 404
    assert private_metrics.status_code == 200
    assert "paperboy_build_info" in private_metrics.text
    assert private_ready.json()["status"] == "ready"
    assert code == 0
