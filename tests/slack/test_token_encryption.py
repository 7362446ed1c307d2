"""OAuth tokens at rest: encrypted with PAPERBOY_SECRET_KEY, readable again only with it, rotated by key order."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.ops.logs import setup_logging
from adapters.slack.config import SlackConfig
from adapters.slack.connection import connect_slack
from adapters.slack.installations import SlackInstallations
from adapters.slack.tokens import SecretKeyError, TokenSealer
from bot.core import Paperboy
from storage.sql import SqlStore
from storage.sql.tables import slack_bots, slack_installations
from tests.fakes.slack import Team
from tests.slack.conftest import SlackHarness, StartSlack, block_text
from tests.slack.test_oauth import install

KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
OAUTH = {"bot_token": None, "client_id": "1111.2222", "client_secret": "oauth-client-secret"}
TOKENS = ("xoxb-oauth-one", "xoxb-oauth-two")


async def installed(start: StartSlack, **config: object) -> SlackHarness:
    """The OAuth app started with `config`, installed into TONE and TTWO through the real flow."""
    harness: SlackHarness = await start(**OAUTH, **config)
    harness.fake.oauth_codes["code-one"] = Team("TONE", TOKENS[0], "UBOTONE")
    harness.fake.oauth_codes["code-two"] = Team("TTWO", TOKENS[1], "UBOTTWO")
    for code in ("code-one", "code-two"):
        finished = await install(harness, code)
        assert finished.status_code == 200, finished.text
    return harness


def oauth_config(config: SlackConfig, keys: tuple[str, ...]) -> SlackConfig:
    """The test configuration for many workspaces, with these secret keys."""
    return replace(
        config, bot_token=None, client_id="1111.2222", client_secret="oauth-client-secret", secret_keys=keys
    )


def engine_of(slack: SlackHarness) -> AsyncEngine:
    """The database engine the app keeps its installations on."""
    store = slack.paperboy.store
    assert isinstance(store, SqlStore)  # the `store` fixture, on which Slack's installations are kept too
    return store.engine


async def stored_text(engine: AsyncEngine, database_url: str) -> str:
    """Everything a reader of the database's storage would find: the SQLite file (and its write-ahead log)
    byte for byte, or on PostgreSQL every value of Slack's installation tables."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    async with engine.connect() as conn:
        rows = [
            *(await conn.execute(select(slack_installations))).all(),
            *(await conn.execute(select(slack_bots))).all(),
        ]
    return "\n".join(str(value) for row in rows for value in row)


async def stored_bot_tokens(engine: AsyncEngine) -> list[str]:
    """The bot_token column of slack_bots, as stored."""
    async with engine.connect() as conn:
        return [str(v) for v in (await conn.execute(select(slack_bots.c.bot_token))).scalars()]


async def test_no_oauth_token_is_readable_in_the_database_after_an_install(
    start: StartSlack, database_url: str
) -> None:
    slack = await installed(start, secret_keys=(KEY,))

    text = await stored_text(engine_of(slack), database_url)
    assert "TONE" in text and "TTWO" in text  # the rows are there, and were read
    assert not [token for token in TOKENS if token in text]
    assert "xoxb-" not in text
    # Still served with each workspace's own token.
    for team in ("TONE", "TTWO"):
        assert "Matryoshka" in block_text(await slack.command("search matryoshka", team=team))
    assert {c.token for c in slack.fake.calls_to("auth.test")} == set(TOKENS)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record at DEBUG, as `PAPERBOY_LOG_LEVEL=DEBUG` writes it, with no secret configured."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup_logging(level="DEBUG", log_format="json", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


async def test_a_debug_log_of_the_oauth_exchange_shows_no_token(
    start: StartSlack, debug_log: io.StringIO
) -> None:
    slack = await installed(start, secret_keys=(KEY,))
    await slack.command("search matryoshka", team="TONE")

    text = debug_log.getvalue()
    assert "oauth.v2.access" in text  # the exchange was logged, at length
    assert "xoxb-" not in text
    assert "oauth-client-secret" not in text


async def test_tokens_stored_in_plain_text_before_a_key_was_set_are_encrypted_on_first_start(
    start: StartSlack, database_url: str
) -> None:
    before = await installed(start)  # no key: stored as before
    engine = engine_of(before)
    assert sorted(await stored_bot_tokens(engine)) == list(TOKENS)

    after: SlackHarness = await start(**OAUTH, secret_keys=(KEY,))

    stored = await stored_bot_tokens(engine)
    assert len(stored) == 2 and all(value.startswith("fernet:") for value in stored)
    assert not [token for token in TOKENS if token in await stored_text(engine, database_url)]
    assert "Matryoshka" in block_text(await after.command("search matryoshka", team="TTWO"))


async def test_a_new_key_listed_first_encrypts_every_token_again_and_the_old_key_can_go(
    start: StartSlack,
) -> None:
    first = await installed(start, secret_keys=(KEY,))
    engine = engine_of(first)
    with_old_key = await stored_bot_tokens(engine)

    await start(**OAUTH, secret_keys=(NEW_KEY, KEY))

    with_new_key = await stored_bot_tokens(engine)
    assert set(with_new_key).isdisjoint(with_old_key)
    only_new: SlackHarness = await start(**OAUTH, secret_keys=(NEW_KEY,))
    assert "Matryoshka" in block_text(await only_new.command("search matryoshka", team="TONE"))


@pytest.mark.parametrize(
    ("keys", "sentence"),
    [
        pytest.param((NEW_KEY,), "PAPERBOY_SECRET_KEY cannot decrypt the tokens stored", id="wrong key"),
        pytest.param((), "encrypted but PAPERBOY_SECRET_KEY is not set", id="no key"),
    ],
)
async def test_a_key_that_cannot_read_the_stored_tokens_stops_the_start_with_a_sentence(
    start: StartSlack, paperboy: Paperboy, slack_config: SlackConfig, keys: tuple[str, ...], sentence: str
) -> None:
    slack = await installed(start, secret_keys=(KEY,))
    config = oauth_config(slack_config, keys)

    with pytest.raises(SecretKeyError, match=sentence):
        await connect_slack(config, paperboy.telemetry, engine=engine_of(slack))

    assert len(await stored_bot_tokens(engine_of(slack))) == 2  # nothing was changed or lost


# Ids by hand: KEY is new in every process, and xdist's workers must collect the same test names.
@pytest.mark.parametrize(
    "value", ["not-a-key", f"{KEY},short", "x" * 44], ids=["not-a-key", "a-key-then-a-short-one", "44-x"]
)
def test_a_malformed_key_is_a_configuration_sentence(slack_config: SlackConfig, value: str) -> None:
    config = oauth_config(slack_config, tuple(value.split(",")))

    with pytest.raises(SecretKeyError, match="is not a Fernet key") as refused:
        config.validate()

    assert value.split(",")[-1] not in str(refused.value)


async def test_an_installation_saved_by_the_store_reads_back_decrypted(
    database_url: str, store: SqlStore
) -> None:
    engine = store.engine
    installations = SlackInstallations(engine, "1111.2222", TokenSealer([KEY]))
    await installations.installations.async_save(
        Installation(
            app_id="A1",
            team_id="T1",
            bot_token="xoxb-saved-token",
            bot_refresh_token="xoxe-1-refresh",
            bot_id="B1",
            user_id="U1",
            user_token="xoxp-user-token",
        )
    )

    found = await installations.installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert (found.bot_token, found.bot_refresh_token, found.user_token) == (
        "xoxb-saved-token",
        "xoxe-1-refresh",
        "xoxp-user-token",
    )
    assert await installations.bot_token("T1") == "xoxb-saved-token"
    text = await stored_text(engine, database_url)
    assert "xoxb-saved-token" not in text and "xoxe-1-refresh" not in text and "xoxp-user-token" not in text


@pytest.mark.parametrize("length", [57, 79])
def test_an_encrypted_bot_token_fits_the_200_characters_of_slack_sdks_token_columns(length: int) -> None:
    # slack_sdk's tables (migration 0003) keep tokens in VARCHAR(200), which PostgreSQL enforces. Today's bot
    # tokens are about 57 characters; rotating tokens (token_rotation_enabled, off in our manifest) are longer
    # and would need wider columns first.
    token = "xoxb-" + "1" * (length - 5)

    sealed = TokenSealer([KEY]).seal(token)

    column = slack_bots.c.bot_token.type
    assert isinstance(column, String) and column.length == 200
    assert len(sealed) <= 200
