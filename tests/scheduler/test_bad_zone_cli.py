"""`paperboy digest --due` with one channel whose stored time zone this machine cannot load."""

from __future__ import annotations

from pathlib import Path

from bot.domain import ChannelRef
from storage.sql import open_store
from tests.scheduler.test_cli import channels, due_now, paperboy


async def test_due_skips_and_pauses_the_channel_with_a_bad_zone_and_posts_the_others(tmp_path: Path) -> None:
    general = ChannelRef("console", "local", "general")
    broken = ChannelRef("console", "local", "broken")
    await channels(tmp_path, due_now(broken, timezone="Mars/Olympus_Mons"), due_now(general))

    code, out, err = await paperboy(tmp_path, "digest", "--due")

    assert code == 0, err
    assert "1 digest(s) due: 1 queued" in out
    assert "3 message(s) posted" in out
    assert "Traceback" not in err
    store = await open_store(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        settings = await store.get_settings(broken)
    finally:
        await store.close()
    assert settings is not None and settings.paused
    assert settings.pause_reason is not None
    assert "'Mars/Olympus_Mons' cannot be loaded on this server" in settings.pause_reason

    code, out, _ = await paperboy(tmp_path, "digest", "--status")
    assert code == 0
    assert "paused: The time zone 'Mars/Olympus_Mons' cannot be loaded on this server" in out
