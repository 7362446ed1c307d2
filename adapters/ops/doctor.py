"""`paperboy doctor`: what is right and what is wrong with this installation, one line each.

Every check is read-only (it creates no database file, posts nothing) and short (network checks time out in
seconds). Nothing printed holds a secret: database passwords are hidden and every configured token or secret
is scrubbed from each line, whatever a server or a driver put in its error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import ValidationError
from sqlalchemy import literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.ops.logs import Redactor
from adapters.settings import Settings

log = logging.getLogger(__name__)

Status = Literal["ok", "fail", "skip"]
SYMBOLS: dict[Status, str] = {"ok": "✓", "fail": "✗", "skip": "-"}
DEFAULT_TIMEOUT = 5.0
DISCORD_DEFAULT_API = "https://discord.com/api/v10"
SLACK_DEFAULT_API = "https://slack.com/api/"
# A paper every arXiv mirror has; asking for one entry is the smallest real query.
ARXIV_PROBE_ID = "1706.03762"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, how it went, and a sentence saying what was found."""

    name: str
    status: Status
    detail: str

    def line(self) -> str:
        """`✓ name: detail`."""
        return f"{SYMBOLS[self.status]} {self.name}: {self.detail}"


def display_url(url: str) -> str:
    """A database URL as people may see it: the password replaced by ***."""
    try:
        return make_url(url.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "DATABASE_URL (not a valid URL)"


def _failure(error: BaseException) -> str:
    """What went wrong, in a few words; the redactor scrubs whatever secret it may quote."""
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        return "no answer in time"
    if isinstance(error, httpx.ConnectError | ConnectionError):
        return "cannot connect"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__


def settings_problems(error: ValidationError) -> list[Check]:
    """Each invalid setting as a failed line: its variable and what is wrong, never the value given."""
    checks = []
    for problem in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in problem["loc"]) or "settings"
        checks.append(Check("configuration", "fail", f"{name}: {problem['msg']}"))
    return checks


def check_configuration(settings: Settings) -> Check:
    """The platforms configured, and whether their settings fit together."""
    parts: list[str] = []
    try:
        if settings.has_slack:
            from adapters.slack.config import SlackConfig

            config = SlackConfig.from_settings(settings)
            config.validate()
            mode = "Socket Mode" if config.socket_mode else "HTTP"
            reach = (
                "many workspaces (OAuth)" if config.uses_oauth and not config.socket_mode else "one workspace"
            )
            parts.append(f"Slack ({mode}, {reach})")
        if settings.has_discord:
            from adapters.discord.config import shard_plan

            plan = shard_plan(settings.discord_shard_count, settings.discord_shard_ids)
            shards = (
                "all shards" if plan.shard_ids is None else f"shards {','.join(map(str, plan.shard_ids))}"
            )
            parts.append(f"Discord ({shards})")
    except ValueError as error:
        return Check("configuration", "fail", str(error))
    if not parts:
        return Check("configuration", "ok", "no chat platform configured: `paperboy run` serves the console")
    return Check("configuration", "ok", ", ".join(parts))


async def check_database(
    settings: Settings, time_limit: float
) -> tuple[list[Check], AsyncEngine | None, bool]:
    """Reachable, and at the newest migration: (lines, the engine to dispose when reachable, migrated)."""
    from storage.sql import StoreError, create_engine_for, current_revision, head_revision, sqlite_path

    where = display_url(settings.database_url)
    try:
        path = sqlite_path(settings.database_url)
        if path is not None and not path.exists():
            return (
                [Check("database", "fail", f"no database file at {path}; `paperboy db upgrade` creates it")],
                None,
                False,
            )
        engine = create_engine_for(settings.database_url)
    except StoreError as error:
        return [Check("database", "fail", str(error))], None, False
    try:
        async with asyncio.timeout(time_limit):
            async with engine.connect() as conn:
                await conn.execute(select(literal(1)))
            revision = await current_revision(engine)
        head = await asyncio.to_thread(head_revision)
    except Exception as error:
        await engine.dispose()
        return [Check("database", "fail", f"{where} cannot be reached: {_failure(error)}")], None, False
    database = Check("database", "ok", f"{where} is reachable")
    if revision != head:
        migrated = Check(
            "migrations", "fail", f"at {revision or 'none'}, the newest is {head}; run `paperboy db upgrade`"
        )
    else:
        migrated = Check("migrations", "ok", f"at the newest ({head})")
    return [database, migrated], engine, revision == head


async def check_time_zones(engine: AsyncEngine | None, time_limit: float) -> Check:
    """Every stored channel schedule names a time zone this machine knows."""
    if engine is None:
        return Check("time zones", "skip", "needs a reachable database at the newest migration")
    from storage.sql import SqlStore

    async with asyncio.timeout(time_limit):
        channels = await SqlStore(engine).list_channels()
    unknown = []
    for channel in channels:
        try:
            ZoneInfo(channel.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            unknown.append(f"{channel.channel} ({channel.timezone})")
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        return Check(
            "time zones",
            "fail",
            f"{len(unknown)} of {len(channels)} channels have a time zone this machine does not know: {shown}; "
            "install tzdata or set them again with /papers schedule",
        )
    if not channels:
        return Check("time zones", "ok", "no channel has a schedule yet")
    return Check("time zones", "ok", f"all {len(channels)} channel schedules use known time zones")


async def check_secret_key(settings: Settings, engine: AsyncEngine | None, time_limit: float) -> Check:
    """With Slack OAuth installs, PAPERBOY_SECRET_KEY is set, well formed, and decrypts every stored token."""
    from adapters.slack.config import SlackConfig
    from adapters.slack.tokens import SecretKeyError, TokenSealer

    name = "secret key"
    config = SlackConfig.from_settings(settings) if settings.has_slack else None
    if config is None or not config.uses_oauth:
        return Check(name, "skip", "no Slack OAuth install keeps a token in the database")
    if not config.secret_keys:
        return Check(
            name,
            "fail",
            "Slack OAuth installs keep their tokens unencrypted in the database: set PAPERBOY_SECRET_KEY "
            "(deploy/slack.md says how to make one)",
        )
    try:
        sealer = TokenSealer(config.secret_keys)
    except SecretKeyError as error:
        return Check(name, "fail", str(error))
    if engine is None:
        return Check(
            name, "ok", "set; the stored tokens are checked once the database is reachable and migrated"
        )
    from adapters.slack.installations import SlackInstallations

    async with asyncio.timeout(time_limit):
        stored = await SlackInstallations(engine, config.client_id or "", sealer).stored_tokens()
    if stored.unreadable:
        return Check(
            name,
            "fail",
            f"PAPERBOY_SECRET_KEY cannot decrypt {stored.unreadable} of the stored Slack tokens; set the key "
            "they were encrypted with (to change keys, put the new one first and the old one after a comma)",
        )
    if stored.plain:
        return Check(
            name,
            "ok",
            f"set; {stored.plain} stored Slack tokens are still unencrypted: `paperboy run` encrypts them "
            "when it starts",
        )
    return Check(name, "ok", f"set; the {stored.readable} stored Slack tokens are encrypted and readable")


async def check_slack(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    """Socket Mode's app token, the bot token (auth.test) and its scopes, as configured."""
    if not settings.has_slack:
        return [Check("slack", "skip", "not configured")]
    from adapters.slack.config import SlackConfig

    config = SlackConfig.from_settings(settings)
    base = settings.slack_api_url or SLACK_DEFAULT_API
    base = base if base.endswith("/") else base + "/"
    checks: list[Check] = []
    if config.app_token:
        answer = (await http.post(base + "apps.connections.open", headers=_bearer(config.app_token))).json()
        if answer.get("ok"):
            checks.append(Check("slack app token", "ok", "Socket Mode can connect"))
        else:
            checks.append(
                Check("slack app token", "fail", f"Slack refused SLACK_APP_TOKEN ({answer.get('error')})")
            )
    if not config.bot_token:
        checks.append(
            Check("slack token", "skip", "many workspaces: each install brings its token, checked when used")
        )
        return checks
    response = await http.post(base + "auth.test", headers=_bearer(config.bot_token))
    answer = response.json()
    if not answer.get("ok"):
        checks.append(Check("slack token", "fail", f"Slack refused SLACK_BOT_TOKEN ({answer.get('error')})"))
        return checks
    checks.append(
        Check(
            "slack token",
            "ok",
            f"valid for workspace {answer.get('team_id')} as bot user {answer.get('user_id')}",
        )
    )
    header = response.headers.get("x-oauth-scopes")
    if header is None:
        checks.append(Check("slack scopes", "skip", "Slack did not list the token's scopes"))
        return checks
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in config.oauth_scopes if scope not in granted]
    if missing:
        from adapters.slack.config import SCOPE_USES

        # Each scope with what lacks without it: an operator sees what a reinstall brings back.
        named = ", ".join(
            f"{scope} ({SCOPE_USES[scope]})" if scope in SCOPE_USES else scope for scope in missing
        )
        checks.append(
            Check(
                "slack scopes",
                "fail",
                f"missing {named}; add them under OAuth & Permissions (see deploy/slack-app-manifest.yml) "
                "and reinstall the app",
            )
        )
    else:
        checks.append(Check("slack scopes", "ok", ", ".join(config.oauth_scopes)))
    return checks


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def check_discord(settings: Settings, http: httpx.AsyncClient) -> Check:
    """The bot token is accepted (GET /users/@me)."""
    if settings.discord_token is None:
        return Check("discord", "skip", "not configured")
    base = (settings.discord_api_url or DISCORD_DEFAULT_API).rstrip("/")
    response = await http.get(
        base + "/users/@me", headers={"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
    )
    if response.status_code == 401:
        return Check(
            "discord", "fail", "Discord refused DISCORD_TOKEN; copy the bot token again from the portal"
        )
    if response.status_code != 200:
        return Check("discord", "fail", f"Discord answered HTTP {response.status_code} to GET /users/@me")
    me: dict[str, Any] = response.json()
    return Check("discord", "ok", f"token valid for bot {me.get('username')} (id {me.get('id')})")


async def check_hugging_face(settings: Settings, http: httpx.AsyncClient) -> Check:
    """Daily Papers answers with a list."""
    from adapters.sources.hf import DAILY_PAPERS_PATH

    response = await http.get(settings.hf_api_url.rstrip("/") + DAILY_PAPERS_PATH, params={"limit": 1})
    if response.status_code != 200:
        return Check("hugging face", "fail", f"Daily Papers answered HTTP {response.status_code}")
    if not isinstance(response.json(), list):
        return Check("hugging face", "fail", "Daily Papers answered something other than a list of papers")
    return Check("hugging face", "ok", f"Daily Papers answered at {settings.hf_api_url}")


async def check_arxiv(settings: Settings, http: httpx.AsyncClient) -> Check:
    """The arXiv API answers a one-paper query with an Atom feed."""
    from adapters.sources.arxiv import user_agent

    response = await http.get(
        settings.arxiv_api_url,
        params={"id_list": ARXIV_PROBE_ID, "max_results": 1},
        headers={"User-Agent": user_agent(settings.contact_email)},
    )
    if response.status_code != 200:
        return Check("arxiv", "fail", f"the arXiv API answered HTTP {response.status_code}")
    if "<feed" not in response.text:
        return Check("arxiv", "fail", "the arXiv API answered something other than an Atom feed")
    return Check("arxiv", "ok", f"the API answered at {settings.arxiv_api_url}")


def _origin(url: str | None) -> str:
    """scheme://host:port of a URL, without any credentials or path."""
    parts = urlsplit(url or "")
    return (
        f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else ""
    )


async def _guarded(
    name: str, check: Callable[[], Awaitable[Check | list[Check]]], url: str | None = None
) -> list[Check]:
    """Run one check; an error it did not expect is a failed line, not a crash of the whole report."""
    try:
        result = await check()
    except Exception as error:
        log.debug("doctor check %s failed", name, exc_info=True)
        where = f" ({_origin(url)})" if _origin(url) else ""
        return [Check(name, "fail", _failure(error) + where)]
    return result if isinstance(result, list) else [result]


async def run_checks(
    settings: Settings,
    *,
    time_limit: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Check]:
    """Every check, in the order an operator fixes things: configuration, database, platforms, sources."""
    checks = [check_configuration(settings)]
    database, engine, migrated = await check_database(settings, time_limit)
    checks += database
    try:
        checks += await _guarded(
            "time zones", lambda: check_time_zones(engine if migrated else None, time_limit)
        )
        checks += await _guarded(
            "secret key", lambda: check_secret_key(settings, engine if migrated else None, time_limit)
        )
    finally:
        if engine is not None:
            await engine.dispose()
    async with httpx.AsyncClient(timeout=time_limit, transport=transport, follow_redirects=True) as http:
        remote = await asyncio.gather(
            _guarded(
                "slack", lambda: check_slack(settings, http), settings.slack_api_url or SLACK_DEFAULT_API
            ),
            _guarded(
                "discord",
                lambda: check_discord(settings, http),
                settings.discord_api_url or DISCORD_DEFAULT_API,
            ),
            _guarded("hugging face", lambda: check_hugging_face(settings, http), settings.hf_api_url),
            _guarded("arxiv", lambda: check_arxiv(settings, http), settings.arxiv_api_url),
        )
    for lines in remote:
        checks += lines
    return checks


def render(checks: list[Check], secrets: list[str]) -> str:
    """The report: one line a check, then a verdict; every secret scrubbed."""
    redact = Redactor(secrets)
    failures = sum(check.status == "fail" for check in checks)
    verdict = "Everything checked is fine." if not failures else f"{failures} problem(s) found."
    return redact("\n".join([*(check.line() for check in checks), verdict]))


async def doctor_report(
    *, time_limit: float = DEFAULT_TIMEOUT, settings: Settings | None = None
) -> tuple[str, bool]:
    """Read the settings (environment and `.env`) and check everything; return (report, all fine)."""
    try:
        settings = settings or Settings()
    except ValidationError as error:
        problems = settings_problems(error)
        return render(problems, []), False
    checks = await run_checks(settings, time_limit=time_limit)
    return render(checks, settings.secret_values()), not any(check.status == "fail" for check in checks)
