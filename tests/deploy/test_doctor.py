"""`paperboy doctor` against loopback fakes: one line a check, ✓ or ✗, non-zero exit, never a secret."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.ops.doctor import doctor_report, run_checks
from adapters.settings import Settings
from adapters.slack.installations import SlackInstallations
from adapters.slack.tokens import TokenSealer
from bot.domain import ChannelRef, ChannelSettings
from storage.sql import head_revision, open_store
from tests.fakes.services import FakeServices

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
KEY = Fernet.generate_key().decode()
OTHER_KEY = Fernet.generate_key().decode()
MakeSettings = Callable[..., Settings]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def migrated_database(tmp_path: Path, *zones: str) -> str:
    """A migrated SQLite database with one scheduled channel per time zone given."""
    url = f"sqlite:///{tmp_path / 'paperboy.db'}"
    store = await open_store(url)
    try:
        for number, zone in enumerate(zones):
            await store.save_settings(ChannelSettings(ChannelRef("slack", "T1", f"C{number}"), timezone=zone))
    finally:
        await store.close()
    return url


def lines_by_name(report: str) -> dict[str, str]:
    """Each report line by its check name (the verdict line left out)."""
    found = {}
    for line in report.splitlines()[:-1]:
        symbol, _, rest = line.partition(" ")
        name, _, detail = rest.partition(": ")
        found[name] = f"{symbol} {detail}"
    return found


async def test_every_check_passes_with_good_settings(
    tmp_path: Path, services: FakeServices, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        DATABASE_URL=await migrated_database(tmp_path, "Europe/Berlin"), **services.settings()
    )

    report, healthy = await doctor_report(settings=settings)

    assert healthy, report
    lines = lines_by_name(report)
    assert list(lines) == [
        "configuration",
        "database",
        "migrations",
        "time zones",
        "secret key",
        "slack token",
        "slack scopes",
        "discord",
        "hugging face",
        "arxiv",
    ]
    assert lines.pop("secret key") == "- no Slack OAuth install keeps a token in the database"
    assert all(line.startswith("✓") for line in lines.values()), report
    assert lines["configuration"] == "✓ Slack (HTTP, one workspace), Discord (all shards)"
    assert lines["slack token"] == "✓ valid for workspace T0TEAM as bot user U0BOT"
    assert lines["discord"] == "✓ token valid for bot Paperboy (id 700000000000000001)"
    assert lines["time zones"] == "✓ all 1 channel schedules use known time zones"
    assert report.splitlines()[-1] == "Everything checked is fine."


async def test_an_app_installed_before_personal_digests_is_told_which_scopes_they_need(
    tmp_path: Path, services: FakeServices, make_settings: MakeSettings
) -> None:
    services.scopes = tuple(s for s in services.scopes if s not in ("im:write", "im:history", "files:write"))
    settings = make_settings(DATABASE_URL=await migrated_database(tmp_path), **services.settings())

    report, healthy = await doctor_report(settings=settings)

    assert not healthy
    assert lines_by_name(report)["slack scopes"] == (
        "✗ missing im:write (personal digests by direct message), im:history (no double direct message after "
        "a crash), files:write (/papers me cite as a .bib file); add them under OAuth & Permissions (see "
        "deploy/slack-app-manifest.yml) and reinstall the app"
    )


async def test_socket_mode_checks_the_app_token(
    tmp_path: Path, services: FakeServices, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        DATABASE_URL=await migrated_database(tmp_path),
        SLACK_APP_TOKEN="xapp-wrong-app-token",
        **services.settings(),
    )

    report, healthy = await doctor_report(settings=settings)

    assert not healthy
    assert lines_by_name(report)["slack app token"] == "✗ Slack refused SLACK_APP_TOKEN (invalid_auth)"


async def test_each_problem_is_a_failed_line_and_the_report_is_unhealthy(
    tmp_path: Path, services: FakeServices, make_settings: MakeSettings
) -> None:
    services.scopes = ("commands",)
    services.hf_status = 503
    settings = make_settings(
        DATABASE_URL=await migrated_database(tmp_path, "Europe/Berlin", "Mars/Olympus_Mons"),
        PAPERBOY_SLACK_ADMINS_ONLY="true",
        **{**services.settings(), "DISCORD_TOKEN": "revoked.discord.token"},
    )

    report, healthy = await doctor_report(settings=settings)

    assert not healthy
    lines = lines_by_name(report)
    assert lines["slack scopes"].startswith(
        "✗ missing chat:write (posting digests and cards), reactions:read ("
    )
    for scope in (
        "channels:history",
        "groups:history",
        "users:read",
        "links:read",
        "links:write",
        "im:write",
    ):
        assert f" {scope} (" in lines["slack scopes"]
    assert lines["discord"] == "✗ Discord refused DISCORD_TOKEN; copy the bot token again from the portal"
    assert lines["hugging face"] == "✗ Daily Papers answered HTTP 503"
    assert lines["time zones"].startswith(
        "✗ 1 of 2 channels have a time zone this machine does not know: slack:T1:C1 (Mars/Olympus_Mons)"
    )
    assert lines["arxiv"].startswith("✓")
    assert report.splitlines()[-1] == "4 problem(s) found."


async def test_a_database_behind_on_migrations_says_to_upgrade(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    database = tmp_path / "old.db"
    sqlite3.connect(database).close()  # exists, but was never migrated
    closed = f"http://127.0.0.1:{closed_port()}"
    settings = make_settings(DATABASE_URL=f"sqlite:///{database}", HF_API_URL=closed, ARXIV_API_URL=closed)

    checks = await run_checks(settings, time_limit=2)

    lines = {c.name: c.line() for c in checks}
    assert lines["database"].startswith("✓")
    assert (
        lines["migrations"]
        == f"✗ migrations: at none, the newest is {head_revision()}; run `paperboy db upgrade`"
    )
    assert lines["time zones"].startswith("- time zones: needs")
    assert lines["hugging face"] == f"✗ hugging face: cannot connect ({closed})"
    assert lines["slack"] == "- slack: not configured" and lines["discord"] == "- discord: not configured"


async def test_a_missing_database_file_is_not_created_by_the_doctor(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'nothing.db'}", HF_API_URL="http://127.0.0.1:1"
    )

    checks = await run_checks(settings, time_limit=2)

    assert (
        checks[1].line()
        == f"✗ database: no database file at {tmp_path / 'nothing.db'}; `paperboy db upgrade` creates it"
    )
    assert not (tmp_path / "nothing.db").exists()


async def test_contradictory_settings_fail_the_configuration_line(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        DATABASE_URL=await migrated_database(tmp_path),
        DISCORD_TOKEN="some.discord.token",
        DISCORD_SHARD_COUNT="2",
        DISCORD_SHARD_IDS="3",
        DISCORD_API_URL="http://127.0.0.1:1",
    )

    checks = await run_checks(settings, time_limit=2)

    assert (
        checks[0].line() == "✗ configuration: Shard 3 does not exist with DISCORD_SHARD_COUNT=2; use 0 to 1."
    )


async def test_no_secret_is_printed_even_when_servers_and_drivers_quote_them(
    services: FakeServices, make_settings: MakeSettings
) -> None:
    services.echo_tokens = True
    secrets = ["xoxb-wrong-but-secret-1", "wrong.discord.secret.2", "pg-password-3"]
    settings = make_settings(
        **{
            **services.settings(),
            "SLACK_BOT_TOKEN": secrets[0],
            "DISCORD_TOKEN": secrets[1],
            "DATABASE_URL": f"postgresql://paperboy:{secrets[2]}@127.0.0.1:{closed_port()}/paperboy",
        }
    )

    report, healthy = await doctor_report(settings=settings, time_limit=2)

    assert not healthy
    assert not any(secret in report for secret in secrets), report
    lines = lines_by_name(report)
    assert lines["slack token"] == "✗ Slack refused SLACK_BOT_TOKEN (invalid_auth: ***)"
    assert lines["database"].startswith("✗ postgresql://paperboy:***@127.0.0.1:")


async def run_doctor_process(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`paperboy doctor` as a process, its environment holding only what is given (and the basics)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        "doctor",
        "--timeout",
        "3",
        env={**base, **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_command_exits_zero_when_all_is_well_and_one_otherwise(
    tmp_path: Path, services: FakeServices
) -> None:
    env = {"DATABASE_URL": await migrated_database(tmp_path, "Asia/Tokyo"), **services.settings()}

    good = await run_doctor_process(tmp_path, env)
    bad = await run_doctor_process(tmp_path, {**env, "SLACK_BOT_TOKEN": "xoxb-revoked-token"})

    assert good[0] == 0, good
    assert good[1].splitlines()[-1] == "Everything checked is fine."
    assert bad[0] == 1, bad
    assert "✗ slack token: Slack refused SLACK_BOT_TOKEN (invalid_auth)" in bad[1]
    assert "xoxb-revoked-token" not in bad[1] + bad[2]


async def test_a_setting_that_cannot_be_read_is_reported_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_PORT=three-thousand\nSLACK_BOT_TOKEN=xoxb-from-dotenv-secret\n")

    code, out, err = await run_doctor_process(tmp_path, {})

    assert code == 1
    assert out.startswith("✗ configuration: PAPERBOY_PORT: Input should be a valid integer")
    assert "Traceback" not in err and "three-thousand" not in out


MALFORMED_PASSWORD = "hunter2-db-password"
MALFORMED_URLS = [
    f"postgres//paperboy:{MALFORMED_PASSWORD}@db:5432/paperboy",  # the colon after the scheme forgotten
    f"postgresql://paperboy:{MALFORMED_PASSWORD}@db:fivefour/paperboy",  # a port that is not a number
    f"paperboy:{MALFORMED_PASSWORD}@db/paperboy",  # no scheme at all
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
@pytest.mark.parametrize(
    "command", [("db", "upgrade"), ("doctor", "--timeout", "1")], ids=["upgrade", "doctor"]
)
async def test_a_malformed_database_url_is_never_printed_with_its_password(
    tmp_path: Path, url: str, command: tuple[str, ...]
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        *command,
        env={**base, "DATABASE_URL": url},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    printed = out.decode() + err.decode()

    assert process.returncode == 1, printed
    assert MALFORMED_PASSWORD not in printed
    assert "Traceback" not in printed
    assert "is not a database URL" in printed


OAUTH_SETTINGS = {
    "SLACK_BOT_TOKEN": "",
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "oauth-secret",
}


async def database_with_an_installation(tmp_path: Path, keys: list[str] | None) -> str:
    """A migrated database where one workspace installed the app (its token encrypted with `keys`, if any)."""
    url = await migrated_database(tmp_path)
    store = await open_store(url)
    try:
        installations = SlackInstallations(store.engine, "1111.2222", TokenSealer(keys) if keys else None)
        await installations.installations.async_save(
            Installation(app_id="A1", team_id="T1", bot_token="xoxb-installed", bot_id="B1", user_id="U1")
        )
    finally:
        await store.close()
    return url


@pytest.mark.parametrize(
    ("stored_with", "configured", "line"),
    [
        pytest.param(
            None,
            None,
            "✗ Slack OAuth installs keep their tokens unencrypted in the database: set PAPERBOY_SECRET_KEY",
            id="no key",
        ),
        pytest.param(
            None,
            KEY,
            "✓ set; 2 stored Slack tokens are still unencrypted: `paperboy run` encrypts",
            id="plain rows",
        ),
        pytest.param(KEY, KEY, "✓ set; the 2 stored Slack tokens are encrypted and readable", id="encrypted"),
        pytest.param(
            OTHER_KEY,
            KEY,
            "✗ PAPERBOY_SECRET_KEY cannot decrypt 2 of the stored Slack tokens",
            id="wrong key",
        ),
        pytest.param(None, "not-a-key", "✗ PAPERBOY_SECRET_KEY: the key is not a Fernet key", id="malformed"),
    ],
)
async def test_the_secret_key_line_says_whether_oauth_tokens_are_encrypted_and_readable(
    tmp_path: Path,
    services: FakeServices,
    make_settings: MakeSettings,
    stored_with: str | None,
    configured: str | None,
    line: str,
) -> None:
    url = await database_with_an_installation(tmp_path, [stored_with] if stored_with else None)
    key = {"PAPERBOY_SECRET_KEY": configured} if configured else {}
    settings = make_settings(DATABASE_URL=url, **{**services.settings(), **OAUTH_SETTINGS, **key})

    report, healthy = await doctor_report(settings=settings)

    assert lines_by_name(report)["secret key"].startswith(line), report
    assert healthy == line.startswith("✓"), report
    assert "not-a-key" not in report
