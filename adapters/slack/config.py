"""The Slack adapter's configuration, taken from the application settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from adapters.settings import Settings
from adapters.slack.tokens import TokenSealer, parse_keys

DEFAULT_VOTE_EMOJI = ("+1", "thumbsup", "arrow_up")
# Bot scopes the OAuth install asks for; deploy/slack-app-manifest.yml lists the same ones.
# The history scopes let a digest that was interrupted after posting find its message instead of posting twice
# (docs/exactly-once.md); votes are never counted by re-reading history. users:read tells a member from a
# guest or someone of another organisation (and, with PAPERBOY_SLACK_ADMINS_ONLY, an admin) before a channel
# is changed, gives a person's time zone for their own digest, and brings `user_change` (someone deactivated).
# links:read and links:write let a shared arXiv or Hugging Face link show its paper's card. im:write opens a
# person's direct messages for their own digest, and im:history finds a digest message there after a crash
# (as channels:history does in a channel). files:write sends `/papers me cite` as a .bib file.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "reactions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "links:read",
    "links:write",
    "im:write",
    "im:history",
    "files:write",
)

# What each scope is for, in a few words: what `paperboy doctor` says a missing scope costs.
SCOPE_USES: dict[str, str] = {
    "commands": "the /papers command",
    "chat:write": "posting digests and cards",
    "reactions:read": "votes by reaction",
    "channels:history": "no double digest message after a crash",
    "groups:history": "the same in private channels",
    "users:read": "who may change a channel, a person's time zone, people who leave",
    "links:read": "paper links shared in messages",
    "links:write": "cards under those links",
    "im:write": "personal digests by direct message",
    "im:history": "no double direct message after a crash",
    "files:write": "/papers me cite as a .bib file",
}


class SlackConfigError(ValueError):
    """The Slack settings are incomplete or contradictory; the message says what to set."""


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Everything the Slack adapter needs to know; build it with `from_settings`."""

    signing_secret: str
    bot_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None
    admins_only: bool = False
    host: str = "0.0.0.0"
    port: int = 3000
    command: str = "/papers"
    vote_emoji: tuple[str, ...] = DEFAULT_VOTE_EMOJI
    post_interval: float = 1.0
    redirect_uri: str | None = None
    work_concurrency: int = 8
    scopes: tuple[str, ...] = field(default_factory=lambda: BOT_SCOPES)
    # PAPERBOY_SECRET_KEY: the keys that encrypt OAuth installs' tokens in the database (the first encrypts).
    secret_keys: tuple[str, ...] = field(default=(), repr=False)

    @property
    def uses_oauth(self) -> bool:
        """True when serving many workspaces through the OAuth install (never in Socket Mode)."""
        return bool(self.client_id and self.client_secret) and not self.socket_mode

    @property
    def socket_mode(self) -> bool:
        """True when connecting out through Socket Mode instead of serving HTTP."""
        return bool(self.app_token)

    @property
    def base_url(self) -> str:
        """The Web API base URL, always ending in a slash."""
        url = self.api_url or "https://slack.com/api/"
        return url if url.endswith("/") else url + "/"

    @property
    def oauth_scopes(self) -> tuple[str, ...]:
        """The bot scopes to request (and that doctor expects of a bot token)."""
        return self.scopes

    def validate(self) -> None:
        """Raise SlackConfigError with one sentence when the settings cannot work."""
        if self.socket_mode:
            if not self.bot_token:
                raise SlackConfigError("Socket Mode (SLACK_APP_TOKEN) also needs SLACK_BOT_TOKEN.")
            return
        if not self.signing_secret:
            raise SlackConfigError("Set SLACK_SIGNING_SECRET (Basic Information > App Credentials in Slack).")
        if bool(self.client_id) != bool(self.client_secret):
            raise SlackConfigError("Set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, or neither.")
        if not self.bot_token and not self.uses_oauth:
            raise SlackConfigError(
                "Set SLACK_BOT_TOKEN for one workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for many."
            )
        if self.secret_keys:
            TokenSealer(self.secret_keys)  # SecretKeyError (a ValueError) says which key is malformed

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig:
        """Read the SLACK_* and PAPERBOY_SLACK_* settings."""

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        emoji = settings.slack_vote_emoji
        vote_emoji = tuple(e.strip().strip(":") for e in emoji.split(",") if e.strip()) if emoji else ()
        return cls(
            signing_secret=secret(settings.slack_signing_secret) or "",
            bot_token=secret(settings.slack_bot_token),
            client_id=settings.slack_client_id,
            client_secret=secret(settings.slack_client_secret),
            app_token=secret(settings.slack_app_token),
            api_url=settings.slack_api_url,
            admins_only=settings.slack_admins_only,
            port=settings.port,
            vote_emoji=vote_emoji or DEFAULT_VOTE_EMOJI,
            post_interval=settings.slack_post_interval,
            redirect_uri=settings.slack_redirect_uri,
            secret_keys=parse_keys(secret(settings.secret_key)),
        )
