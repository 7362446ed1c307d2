"""One settings object, read from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting Paperboy reads; the table in deploy/README.md documents each one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///paperboy.db", alias="DATABASE_URL")
    index_dir: Path | None = Field(None, alias="PAPERBOY_INDEX_DIR")
    port: int = Field(3000, alias="PAPERBOY_PORT")
    console_channel: str = Field("console:local:general", alias="PAPERBOY_CONSOLE_CHANNEL")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    slack_admins_only: bool = Field(False, alias="PAPERBOY_SLACK_ADMINS_ONLY")

    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_api_url: str | None = Field(None, alias="DISCORD_API_URL")
    discord_gateway_url: str | None = Field(None, alias="DISCORD_GATEWAY_URL")
    discord_shard_count: int | None = Field(None, alias="DISCORD_SHARD_COUNT")
    discord_shard_ids: str | None = Field(None, alias="DISCORD_SHARD_IDS")

    hf_api_url: str = Field("https://huggingface.co", alias="HF_API_URL")
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", alias="ARXIV_API_URL")
    contact_email: str = Field("paperboy@example.invalid", alias="PAPERBOY_CONTACT_EMAIL")
    refresh_minutes: int = Field(30, alias="PAPERBOY_REFRESH_MINUTES")

    @property
    def has_slack(self) -> bool:
        """True when a Slack workspace (token or OAuth) is configured."""
        return bool(self.slack_bot_token or self.slack_client_id or self.slack_app_token)

    @property
    def has_discord(self) -> bool:
        """True when a Discord bot token is configured."""
        return self.discord_token is not None
