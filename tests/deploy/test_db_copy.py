"""`paperboy db copy --to URL`: from SQLite into a new database on the real PostgreSQL, every row, counts checked."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select

from adapters.ops.dbcopy import CopyError, copy_database
from adapters.slack.installations import SlackInstallations
from adapters.slack.tokens import TokenSealer
from adapters.sources.demo import load_demo_papers
from bot.domain import SHOWN_AS_CARD, ChannelRef, ChannelSettings, DigestPlan, ScoredPaper, Vote, WeekRecap
from bot.ports import SettingsChange
from storage.sql.engine import create_engine_for
from storage.sql.store import SqlStore, open_store
from storage.sql.tables import metadata
from tests.conftest import POSTGRES_SERVER, REQUIRE_POSTGRES

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
DAY = date(2026, 11, 25)
CHANNEL = ChannelRef("slack", "T1", "C1")
PERSON = ChannelRef.person("slack", "T1", "U1")
pytestmark = pytest.mark.postgres


@pytest.fixture
async def new_postgres() -> AsyncIterator[str]:
    """The URL of a database created for this test on the PostgreSQL server (with a password in it, which
    trust authentication ignores), dropped afterwards."""
    name = f"paperboy_copy_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {POSTGRES_SERVER} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_SERVER} is unreachable: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_SERVER.rpartition("/")[0].replace("postgres@", "postgres:copy-secret-pw@", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def filled_sqlite(tmp_path: Path) -> str:
    """A SQLite store holding some of everything: papers, settings, topics, votes, a posted digest and a weekly
    recap, messages, and a Slack installation."""
    url = f"sqlite:///{tmp_path / 'paperboy.db'}"
    store = await open_store(url)
    try:
        papers = load_demo_papers(DAY)
        await store.upsert_papers(papers)
        await store.save_settings(ChannelSettings(CHANNEL, hour=7, minute=30, timezone="Asia/Tokyo"))
        await store.save_settings(
            ChannelSettings(
                ChannelRef("discord", "G1", "C2"), paused=True, pause_reason="gone", recap_day=None
            )
        )
        # A person's own target, with the D… conversation Slack opened for them (migration 0008).
        await store.enrol(PERSON, SettingsChange())
        await store.remember_address(PERSON, "D0PERSON")
        for topic in ("gaussian splatting", "cat:cs.CL", 'author:"Ada Lovelace"'):
            await store.add_topic(CHANNEL, topic)
        for user in ("U1", "U2", "U3"):
            await store.cast_vote(Vote("slack", "T1", user, papers[0].arxiv_id))
        plan = DigestPlan(
            CHANNEL, DAY, ("gaussian splatting",), tuple(ScoredPaper(p, 1.0) for p in papers[:3])
        )
        digest_id = await store.create_digest(plan)
        assert digest_id is not None
        deliveries = await store.deliveries_of(digest_id)
        for number, delivery in enumerate(deliveries[:2]):
            await store.mark_posted(delivery.id, f"1700000000.00000{number}")
        await store.remember_message(CHANNEL, "1700000099.000001", papers[5].arxiv_id, via=SHOWN_AS_CARD)
        await store.remember_message(CHANNEL, "1700000098.000001", papers[6].arxiv_id)
        week = WeekRecap(
            datetime(2026, 11, 18, 7, 30, tzinfo=UTC),
            datetime(2026, 11, 25, 7, 30, tzinfo=UTC),
            ((papers[0].arxiv_id, 3),),
            shared=4,
            voted=1,
        )
        recap = DigestPlan(CHANNEL, DAY, (), (ScoredPaper(papers[0], 3.0, 3),), recap=week)
        assert await store.create_digest(recap) is not None
        installations = SlackInstallations(store.engine, "1111.2222")
        await installations.installations.async_save(
            Installation(
                app_id="A1",
                team_id="T1",
                team_name="Lab",
                bot_token="xoxb-installed-token",
                bot_id="B1",
                bot_user_id="UBOT",
                bot_scopes="commands,chat:write",
                user_id="UINSTALLER",
            )
        )
    finally:
        await store.close()
    return url


async def every_row(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (Slack's OAuth tables included), in primary-key order."""
    engine = create_engine_for(url)
    rows: dict[str, list[dict[str, Any]]] = {}
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                result = await conn.execute(select(table).order_by(*table.primary_key.columns))
                rows[table.name] = [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()
    return rows


async def paperboy(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run the real command; return (exit code, stdout, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        *args,
        env={**base, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_every_row_of_every_table_arrives_in_postgresql(tmp_path: Path, new_postgres: str) -> None:
    source = await filled_sqlite(tmp_path)

    code, out, err = await paperboy({"DATABASE_URL": source}, tmp_path, "db", "copy", "--to", new_postgres)

    assert code == 0, err
    before, after = await every_row(source), await every_row(new_postgres)
    assert (
        set(after)
        == set(before)
        == {
            "papers",
            "channel_settings",
            "topics",
            "votes",
            "digests",
            "deliveries",
            "paper_messages",
            "paper_embeddings",
            "slack_installations",
            "slack_bots",
            "slack_oauth_states",
            "event_keys",
            "leases",
        }
    )
    assert after == before
    assert "✓ papers: 50 rows" in out and "✓ topics: 3 rows" in out and "✓ slack_bots: 1 rows" in out
    assert "every count matches" in out
    assert "copy-secret-pw" not in out + err and "postgresql://postgres:***@" in out


async def test_the_copy_keeps_working_as_a_store_where_new_ids_follow_the_copied_ones(
    tmp_path: Path, new_postgres: str
) -> None:
    source = await filled_sqlite(tmp_path)
    await copy_database(source, new_postgres, batch_size=7)

    store = await open_store(new_postgres, migrate=False)
    try:
        await store.add_topic(CHANNEL, "diffusion")
        topics = await store.list_topics(CHANNEL)
        papers = load_demo_papers(DAY)
        plan = DigestPlan(CHANNEL, date(2026, 11, 26), (), (ScoredPaper(papers[10], 1.0),))
        digest_id = await store.create_digest(plan)
        assert await store.paper_for_message(CHANNEL, "1700000099.000001") == papers[5].arxiv_id
        assert (await store.vote_counts([papers[0].arxiv_id], None)) == {papers[0].arxiv_id: 3}
        assert await store.address_of(PERSON) == "D0PERSON"
    finally:
        await store.close()
    assert [t.query for t in topics][-1] == "diffusion" and len(topics) == 4
    assert digest_id == 3  # after the copied digest and recap


async def test_a_target_that_already_holds_rows_is_refused_and_left_alone(
    tmp_path: Path, new_postgres: str
) -> None:
    source = await filled_sqlite(tmp_path)
    await copy_database(source, new_postgres)
    store: SqlStore = await open_store(new_postgres, migrate=False)
    try:
        await store.add_topic(CHANNEL, "only in the target")
    finally:
        await store.close()

    with pytest.raises(
        CopyError,
        match=r"already holds rows \(.*papers: 50, .*slack_installations: 1, topics: 4, .*\); copy into a new, empty database\.$",
    ):
        await copy_database(source, new_postgres)

    assert len((await every_row(new_postgres))["topics"]) == 4


async def test_copying_a_database_onto_itself_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'paperboy.db'}"

    code, _out, err = await paperboy({"DATABASE_URL": url}, tmp_path, "db", "copy", "--to", url)

    assert code == 1
    assert err.strip() == "The target is the configured database itself; give --to another database."


async def test_an_unreachable_target_is_one_sentence_without_its_password(tmp_path: Path) -> None:
    source = await filled_sqlite(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = f"postgresql://paperboy:never-show-this-pw@127.0.0.1:{port}/paperboy"

    code, out, err = await paperboy({"DATABASE_URL": source}, tmp_path, "db", "copy", "--to", target)

    assert code == 1
    assert "never-show-this-pw" not in out + err
    assert err.strip() == (
        f"Cannot open the database at postgresql://paperboy:***@127.0.0.1:{port}/paperboy: "
        "connection refused (no server is listening on that port)."
    )


async def test_encrypted_slack_tokens_arrive_encrypted_and_read_back_with_the_same_key(
    tmp_path: Path, new_postgres: str
) -> None:
    key = Fernet.generate_key().decode()
    source = f"sqlite:///{tmp_path / 'paperboy.db'}"
    store = await open_store(source)
    try:
        sealed = SlackInstallations(store.engine, "1111.2222", TokenSealer([key]))
        await sealed.installations.async_save(
            Installation(app_id="A1", team_id="T1", bot_token="xoxb-copied-token", bot_id="B1", user_id="U1")
        )
    finally:
        await store.close()

    code, _out, err = await paperboy({"DATABASE_URL": source}, tmp_path, "db", "copy", "--to", new_postgres)

    assert code == 0, err
    rows = await every_row(new_postgres)
    stored = " ".join(str(row) for name in ("slack_installations", "slack_bots") for row in rows[name])
    assert "T1" in stored and "xoxb-" not in stored
    target = await open_store(new_postgres, migrate=False)
    try:
        assert await SlackInstallations(target.engine, "1111.2222", TokenSealer([key])).bot_token("T1") == (
            "xoxb-copied-token"
        )
    finally:
        await target.close()


@pytest.mark.parametrize("which", ["DATABASE_URL", "--to"])
async def test_a_malformed_url_on_either_side_is_never_printed_with_its_password(
    tmp_path: Path, which: str
) -> None:
    malformed = "postgres//paperboy:never-print-me@db:5432/paperboy"
    good = f"sqlite:///{tmp_path / 'paperboy.db'}"
    await (await open_store(good)).close()  # migrated, so that only the malformed URL is wrong
    source, target = (malformed, good) if which == "DATABASE_URL" else (good, malformed)

    code, out, err = await paperboy({"DATABASE_URL": source}, tmp_path, "db", "copy", "--to", target)

    assert code == 1
    assert "never-print-me" not in out + err
    assert "Traceback" not in err and "is not a database URL" in err
