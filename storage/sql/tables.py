"""SQLModel tables of the store; `storage/migrations` creates exactly this schema."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
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
    __table_args__ = (
        Index("ix_papers_featured_on", "featured_on"),
        Index("ix_papers_updated_at", "updated_at"),
    )

    arxiv_id: str = Field(sa_column=Column(String(ARXIV_ID), primary_key=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False))
    published: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    featured_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    hf_upvotes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    num_comments: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    ai_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ai_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    github_repo: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    github_stars: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    project_page: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    organization: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    thumbnail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    journal_ref: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    doi: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    withdrawn: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class ChannelSettingsRow(SQLModel, table=True):
    """A channel's digest schedule and state, one row a channel."""

    __tablename__ = "channel_settings"
    __table_args__ = (PrimaryKeyConstraint("platform", "workspace", "channel"),)

    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    channel: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    hour: int = Field(sa_column=Column(Integer, nullable=False))
    minute: int = Field(sa_column=Column(Integer, nullable=False))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    weekdays_only: bool = Field(sa_column=Column(Boolean, nullable=False))
    digest_size: int = Field(sa_column=Column(Integer, nullable=False))
    lookback_days: int = Field(sa_column=Column(Integer, nullable=False))
    paused: bool = Field(sa_column=Column(Boolean, nullable=False))
    pause_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class TopicRow(SQLModel, table=True):
    """One topic of a channel; the autoincrement id keeps the order they were added in."""

    __tablename__ = "topics"
    __table_args__ = (Index("ix_topics_channel", "platform", "workspace", "channel", "id"),)

    # BigInteger on PostgreSQL, but INTEGER on SQLite, where only that type is the rowid alias.
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    channel: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    query: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class VoteRow(SQLModel, table=True):
    """One person's chat vote for one paper in one workspace."""

    __tablename__ = "votes"
    __table_args__ = (
        PrimaryKeyConstraint("platform", "workspace", "user_id", "arxiv_id"),
        Index("ix_votes_arxiv_id", "arxiv_id"),
    )

    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    user_id: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    arxiv_id: str = Field(sa_column=Column(String(ARXIV_ID), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DigestRow(SQLModel, table=True):
    """One channel's digest for one local date; the unique constraint makes a day post once."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "channel", "local_date", name="uq_digests_channel_date"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    channel: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    local_date: date = Field(sa_column=Column(Date, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DeliveryRow(SQLModel, table=True):
    """One message a digest must post: the parent (position 0, no paper) or one paper (1..n)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("digest_id", "position", name="uq_deliveries_digest_position"),
        Index("ix_deliveries_channel_paper", "platform", "workspace", "channel", "arxiv_id"),
        Index("ix_deliveries_state", "state", "claimed_until"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    digest_id: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"),
            ForeignKey("digests.id", ondelete="CASCADE", name="fk_deliveries_digest_id"),
            nullable=False,
        )
    )
    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    channel: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    arxiv_id: str | None = Field(default=None, sa_column=Column(String(ARXIV_ID), nullable=True))
    state: str = Field(sa_column=Column(String(STATE), nullable=False))
    message_id: str | None = Field(default=None, sa_column=Column(String(MESSAGE_ID), nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(REF_PART), nullable=True))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    posted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class PaperMessageRow(SQLModel, table=True):
    """Which paper a bot message shows, so that reactions on it count as votes for that paper."""

    __tablename__ = "paper_messages"
    __table_args__ = (PrimaryKeyConstraint("platform", "workspace", "channel", "message_id"),)

    platform: str = Field(sa_column=Column(String(PLATFORM), nullable=False))
    workspace: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    channel: str = Field(sa_column=Column(String(REF_PART), nullable=False))
    message_id: str = Field(sa_column=Column(String(MESSAGE_ID), nullable=False))
    arxiv_id: str = Field(sa_column=Column(String(ARXIV_ID), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PaperEmbeddingRow(SQLModel, table=True):
    """One paper's embedding under one model (the semantic extra): derived data, recomputed when text changes."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (
        PrimaryKeyConstraint("model", "arxiv_id"),
        Index("ix_paper_embeddings_model_updated_at", "model", "updated_at"),
    )

    model: str = Field(sa_column=Column(String(EMBEDDING_MODEL), nullable=False))
    arxiv_id: str = Field(
        sa_column=Column(
            String(ARXIV_ID),
            ForeignKey("papers.arxiv_id", ondelete="CASCADE", name="fk_paper_embeddings_arxiv_id"),
            nullable=False,
        )
    )
    # A digest of the text that was embedded: a paper whose title or abstract changed is embedded again.
    text_hash: str = Field(sa_column=Column(String(32), nullable=False))
    dimension: int = Field(sa_column=Column(Integer, nullable=False))
    # Little-endian float16, `dimension` of them, unit length.
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


papers = PaperRow.__table__  # type: ignore[attr-defined]
paper_embeddings = PaperEmbeddingRow.__table__  # type: ignore[attr-defined]
channel_settings = ChannelSettingsRow.__table__  # type: ignore[attr-defined]
topics = TopicRow.__table__  # type: ignore[attr-defined]
votes = VoteRow.__table__  # type: ignore[attr-defined]
digests = DigestRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
paper_messages = PaperMessageRow.__table__  # type: ignore[attr-defined]

metadata = SQLModel.metadata
