"""`paperboy digest --due` and `--status` as a cron job or an operator runs them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.domain import ChannelRef, ChannelSettings
from storage.sql import open_store
from tests.scheduler.conftest import synthetic_papers
from tests.scheduler.test_kill import PAPERBOY, clean_environment


async def paperboy(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the command line; return the exit code, stdout and stderr."""
    environment = clean_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", PAPERBOY_INDEX_DIR=str(tmp_path / "index"), **env
    )
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        *args,
        env=environment,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def channels(tmp_path: Path, *settings: ChannelSettings) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        await store.upsert_papers(synthetic_papers(datetime.now(UTC).date(), 12))
        for one in settings:
            await store.save_settings(one)
    finally:
        await store.close()


def due_now(ref: ChannelRef, **changes: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "hour": 0,
        "minute": 0,
        "timezone": "UTC",
        "weekdays_only": False,
        "digest_size": 2,
    }
    values.update(changes)
    return ChannelSettings(ref, **values)


async def test_due_posts_what_is_due_once_and_says_so(tmp_path: Path) -> None:
    general = ChannelRef("console", "local", "general")
    await channels(tmp_path, due_now(general))
    code, out, _ = await paperboy(tmp_path, "digest", "--due")
    assert code == 0
    assert "1 digest(s) due: 1 queued" in out
    assert "3 message(s) posted" in out
    assert "Trending papers for" in out and "on delivery" in out  # the console printed the digest

    code, out, _ = await paperboy(tmp_path, "digest", "--due")
    assert code == 0
    assert "0 queued, 1 already there" in out
    assert "0 message(s) posted" in out


async def test_status_shows_next_run_today_s_digest_last_delivery_and_pause_reasons(tmp_path: Path) -> None:
    general = ChannelRef("console", "local", "general")
    paused = ChannelRef("slack", "T1", "COLD")
    later = ChannelRef("discord", "G1", "C2")
    await channels(
        tmp_path,
        due_now(general),
        due_now(paused, paused=True, pause_reason="Paperboy is not a member of this channel; invite it."),
        due_now(later, hour=23, minute=59, timezone="Pacific/Kiritimati"),
    )
    await paperboy(tmp_path, "digest", "--due")
    code, out, _ = await paperboy(tmp_path, "digest", "--status")
    assert code == 0
    assert "console:local:general  00:00 UTC, every day, 2 papers" in out
    assert "today (" in out and "3 posted" in out
    assert "slack:T1:COLD" in out
    assert "paused: Paperboy is not a member of this channel; invite it." in out
    assert "discord:G1:C2  23:59 Pacific/Kiritimati" in out
    assert out.count("last delivery: never") == 2
    assert "next run: " in out


async def test_a_digest_that_cannot_be_delivered_fails_the_run_and_pauses_with_the_reason(
    tmp_path: Path,
) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "fatal_error"})

    app = web.Application()
    app.router.add_route("*", "/api/{method}", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        team = ChannelRef("slack", "T1", "C1")
        await channels(tmp_path, due_now(team))
        env = {
            "SLACK_BOT_TOKEN": "xoxb-refused",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_URL": f"http://127.0.0.1:{port}/api/",
            "PAPERBOY_DELIVERY_ATTEMPTS": "2",
            "PAPERBOY_DELIVERY_BACKOFF": "0.01",
        }
        code, out, _ = await paperboy(tmp_path, "digest", "--due", **env)
        assert code == 1
        assert "1 digest(s) could not be delivered" in out
        code, out, _ = await paperboy(tmp_path, "digest", "--status", **env)
        assert "paused: Posting the digest failed 2 times in a row" in out
        assert "fatal_error" in out
    finally:
        await runner.cleanup()


async def test_due_and_status_stand_alone(tmp_path: Path) -> None:
    code, _, err = await paperboy(tmp_path, "digest", "--due", "--status")
    assert code == 1 and "stand alone" in err
    code, _, err = await paperboy(tmp_path, "digest", "--due", "--channel", "console:local:general")
    assert code == 1 and "stand alone" in err
    code, _, err = await paperboy(tmp_path, "digest")
    assert code == 1 and "--channel" in err and "--due" in err
