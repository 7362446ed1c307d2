"""Every table of Paperboy's database; `storage/migrations` creates exactly this schema.

Paperboy's own tables are SQLModel models. The store queries them through their Core `Table` objects (the
`papers`, `votes`, … names at the end), which keep bulk statements cheap and typed; the models themselves serve
primary-key reads. Slack's OAuth tables belong to slack_sdk and are declared here only so that Alembic owns them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Widths shared by the tables and the migration, so the two cannot drift apart silently.
ARXIV_ID = 64
PLATFORM = 16
REF_PART = 128  # bot.domain allows channel reference parts up to 128 characters
MESSAGE_ID = 128
STATE = 16
EMBEDDING_MODEL = 200
EVENT_KEY = 200
LEASE_NAME = 64
KIND = 16

metadata = SQLModel.metadata
# The names the migrations gave to single-column indexes and foreign keys, so that `index=True` and
# `foreign_key=` declare the very constraints the database has (and autogenerate names new ones alike).
metadata.naming_convention = {"ix": "ix_%(column_0_label)s", "fk": "fk_%(table_name)s_%(column_0_name)s"}

# BIGINT ids on PostgreSQL; INTEGER on SQLite, where only that type is the autoincrementing rowid alias.
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no timezone-aware type: it keeps the naive UTC text, and this type puts UTC back on reading,
    so both databases hand the same values to the core.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; naive for SQLite so its text sorts and compares in one format."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PaperRow(SQLModel, table=True):
    """One paper; the database is its only copy (the search index is derived from it)."""

    __tablename__ = "papers"

    arxiv_id: str = Field(primary_key=True, sa_type=String(ARXIV_ID))
    title: str = Field(sa_type=Text)
    authors: list[str] = Field(default_factory=list, sa_type=JSON)
    abstract: str = Field(default="", sa_type=Text)
    published: date | None = None
    featured_on: date | None = Field(default=None, index=True)
    hf_upvotes: int = 0
    num_comments: int = 0
    ai_summary: str | None = Field(default=None, sa_type=Text)
    ai_keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    github_repo: str | None = Field(default=None, sa_type=Text)
    github_stars: int | None = None
    project_page: str | None = Field(default=None, sa_type=Text)
    organization: str | None = Field(default=None, sa_type=Text)
    thumbnail: str | None = Field(default=None, sa_type=Text)
    categories: list[str] = Field(default_factory=list, sa_type=JSON)
    comment: str | None = Field(default=None, sa_type=Text)
    journal_ref: str | None = Field(default=None, sa_type=Text)
    doi: str | None = Field(default=None, sa_type=Text)
    withdrawn: bool = False
    updated_at: datetime = Field(sa_type=UtcDateTime, index=True)


class ChannelSettingsRow(SQLModel, table=True):
    """A channel's digest schedule and state, one row a channel."""

    __tablename__ = "channel_settings"

    platform: str = Field(primary_key=True, sa_type=String(PLATFORM))
    workspace: str = Field(primary_key=True, sa_type=String(REF_PART))
    channel: str = Field(primary_key=True, sa_type=String(REF_PART))
    hour: int
    minute: int
    timezone: str = Field(sa_type=String(64))
    weekdays_only: bool
    digest_size: int
    lookback_days: int
    paused: bool
    pause_reason: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    # The weekly recap's day (Monday 0 … Sunday 6), None when off (migration 0006 gave every channel Friday).
    recap_day: int | None = None
    # Where the platform delivers the target when its id is not a conversation: a Slack person's D… id, which
    # conversations.open (rationed by Slack) answers; None until known, and for channels (migration 0008).
    address: str | None = Field(default=None, sa_type=String(REF_PART))


class TopicRow(SQLModel, table=True):
    """One topic of a channel; the autoincrement id keeps the order they were added in.

    `query_key` is the topic case-folded: topics that differ only in case are one topic, and the unique index
    keeps each once per channel even when two subscribes race (migration 0004).
    """

    __tablename__ = "topics"
    __table_args__ = (
        Index("ix_topics_channel", "platform", "workspace", "channel", "id"),
        Index("uq_topics_channel_query", "platform", "workspace", "channel", "query_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    platform: str = Field(sa_type=String(PLATFORM))
    workspace: str = Field(sa_type=String(REF_PART))
    channel: str = Field(sa_type=String(REF_PART))
    query: str = Field(sa_type=Text)
    query_key: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UtcDateTime)


class VoteRow(SQLModel, table=True):
    """One person's chat vote for one paper in one workspace; `created_at` dates it for `top` and recaps."""

    __tablename__ = "votes"
    # Covering the leaderboard's scan: a workspace's votes of a period, read from the index alone.
    __table_args__ = (Index("ix_votes_workspace_created", "platform", "workspace", "created_at", "arxiv_id"),)

    platform: str = Field(primary_key=True, sa_type=String(PLATFORM))
    workspace: str = Field(primary_key=True, sa_type=String(REF_PART))
    user_id: str = Field(primary_key=True, sa_type=String(REF_PART))
    arxiv_id: str = Field(primary_key=True, index=True, sa_type=String(ARXIV_ID))
    created_at: datetime = Field(sa_type=UtcDateTime)


class DigestRow(SQLModel, table=True):
    """One channel's digest of one kind for one local date; the unique constraint makes each post once.

    `kind` is "daily" or "recap" (the weekly recap, keyed by the local date it is posted on); a recap keeps
    what it sums up in `recap` (its week, its ranking, its counts), so a restarted worker posts the same one.
    """

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint(
            "platform", "workspace", "channel", "kind", "local_date", name="uq_digests_channel_kind_date"
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    platform: str = Field(sa_type=String(PLATFORM))
    workspace: str = Field(sa_type=String(REF_PART))
    channel: str = Field(sa_type=String(REF_PART))
    local_date: date
    topics: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)
    kind: str = Field(default="daily", sa_type=String(KIND), sa_column_kwargs={"server_default": "daily"})
    recap: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class DeliveryRow(SQLModel, table=True):
    """One message a digest must post: the parent (position 0, no paper) or one paper (1..n)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("digest_id", "position", name="uq_deliveries_digest_position"),
        Index("ix_deliveries_channel_paper", "platform", "workspace", "channel", "arxiv_id"),
        Index("ix_deliveries_state", "state", "claimed_until"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    digest_id: int = Field(foreign_key="digests.id", ondelete="CASCADE", sa_type=ROW_ID)
    platform: str = Field(sa_type=String(PLATFORM))
    workspace: str = Field(sa_type=String(REF_PART))
    channel: str = Field(sa_type=String(REF_PART))
    position: int
    arxiv_id: str | None = Field(default=None, sa_type=String(ARXIV_ID))
    state: str = Field(sa_type=String(STATE))
    message_id: str | None = Field(default=None, sa_type=String(MESSAGE_ID))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    claimed_by: str | None = Field(default=None, sa_type=String(REF_PART))
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    posted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PaperMessageRow(SQLModel, table=True):
    """Which papers a message shows (a digest reply, a card, a message someone posted with paper links), so
    that reactions on it count as votes for each of them."""

    __tablename__ = "paper_messages"
    __table_args__ = (Index("ix_paper_messages_paper", "platform", "workspace", "arxiv_id"),)

    platform: str = Field(primary_key=True, sa_type=String(PLATFORM))
    workspace: str = Field(primary_key=True, sa_type=String(REF_PART))
    channel: str = Field(primary_key=True, sa_type=String(REF_PART))
    message_id: str = Field(primary_key=True, sa_type=String(MESSAGE_ID))
    # Part of the key since migration 0007: a message someone posts may link several papers.
    arxiv_id: str = Field(primary_key=True, sa_type=String(ARXIV_ID))
    created_at: datetime = Field(sa_type=UtcDateTime)
    # How the paper came to be shown there (bot.domain's SHOWN_… words); a message someone else posted is a link.
    via: str = Field(default="link", sa_type=String(KIND), sa_column_kwargs={"server_default": "link"})


class PaperEmbeddingRow(SQLModel, table=True):
    """One paper's embedding under one model (the semantic extra): derived data, recomputed when text changes."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (Index("ix_paper_embeddings_model_updated_at", "model", "updated_at"),)

    model: str = Field(primary_key=True, sa_type=String(EMBEDDING_MODEL))
    arxiv_id: str = Field(
        primary_key=True, foreign_key="papers.arxiv_id", ondelete="CASCADE", sa_type=String(ARXIV_ID)
    )
    # A digest of the text that was embedded: a paper whose title or abstract changed is embedded again.
    text_hash: str = Field(sa_type=String(32))
    dimension: int
    # Little-endian float16, `dimension` of them, unit length.
    vector: bytes
    updated_at: datetime = Field(sa_type=UtcDateTime)


class EventKeyRow(SQLModel, table=True):
    """A platform event already acted on (Slack's `event_id`): a retry landing on any replica is skipped.

    Kept for a while (the core says how long), then deleted: a platform retries an event within minutes.
    """

    __tablename__ = "event_keys"

    key: str = Field(primary_key=True, sa_type=String(EVENT_KEY))
    seen_at: datetime = Field(sa_type=UtcDateTime, index=True)


class LeaseRow(SQLModel, table=True):
    """A job that one replica at a time runs (the Daily Papers refresh): who holds it, and until when."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, sa_type=String(LEASE_NAME))
    holder: str = Field(sa_type=String(REF_PART))
    until: datetime = Field(sa_type=UtcDateTime)


# slack_sdk's installation and OAuth state stores (adapters/slack/installations.py) read and write these
# through tables of their own; they are copied here column for column from the installed slack_sdk (see
# migration 0003) so that the migrations, `db copy` and the schema tests know them. A test compares them
# with slack_sdk's definitions, so an upgrade of slack_sdk that changes them fails until a migration follows.
# Core tables rather than models: nothing in Paperboy reads them as rows.


slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)

# The Core side of the models, for statements. (SQLModel leaves `Model.__table__` untyped; this lookup is typed.)
papers = metadata.tables["papers"]
paper_embeddings = metadata.tables["paper_embeddings"]
channel_settings = metadata.tables["channel_settings"]
topics = metadata.tables["topics"]
votes = metadata.tables["votes"]
digests = metadata.tables["digests"]
deliveries = metadata.tables["deliveries"]
paper_messages = metadata.tables["paper_messages"]
event_keys = metadata.tables["event_keys"]
leases = metadata.tables["leases"]
SLACK_TABLES = (slack_installations, slack_bots, slack_oauth_states)
