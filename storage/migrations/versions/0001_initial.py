"""The first schema: papers, channel settings, topics, votes, digests, deliveries and paper messages.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    """BIGINT ids on PostgreSQL; INTEGER on SQLite, where only that type is the autoincrementing rowid."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp() -> sa.DateTime:
    """A UTC timestamp (storage.sql.tables.UtcDateTime stores it)."""
    return sa.DateTime(timezone=True)


def _channel_ref() -> list[sa.Column[str]]:
    """The three columns a channel reference is stored in."""
    return [
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
    ]


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "papers",
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("featured_on", sa.Date(), nullable=True),
        sa.Column("hf_upvotes", sa.Integer(), nullable=False),
        sa.Column("num_comments", sa.Integer(), nullable=False),
        sa.Column("ai_summary", sa.Text(), nullable=True),
        sa.Column("ai_keywords", sa.JSON(), nullable=False),
        sa.Column("github_repo", sa.Text(), nullable=True),
        sa.Column("github_stars", sa.Integer(), nullable=True),
        sa.Column("project_page", sa.Text(), nullable=True),
        sa.Column("organization", sa.Text(), nullable=True),
        sa.Column("thumbnail", sa.Text(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("journal_ref", sa.Text(), nullable=True),
        sa.Column("doi", sa.Text(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
    )
    op.create_index("ix_papers_featured_on", "papers", ["featured_on"])
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])

    op.create_table(
        "channel_settings",
        *_channel_ref(),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekdays_only", sa.Boolean(), nullable=False),
        sa.Column("digest_size", sa.Integer(), nullable=False),
        sa.Column("lookback_days", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace", "channel"),
    )

    op.create_table(
        "topics",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        *_channel_ref(),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
    )
    op.create_index("ix_topics_channel", "topics", ["platform", "workspace", "channel", "id"])

    op.create_table(
        "votes",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace", "user_id", "arxiv_id"),
    )
    op.create_index("ix_votes_arxiv_id", "votes", ["arxiv_id"])

    op.create_table(
        "digests",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        *_channel_ref(),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.UniqueConstraint("platform", "workspace", "channel", "local_date", name="uq_digests_channel_date"),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column(
            "digest_id",
            _id(),
            sa.ForeignKey("digests.id", ondelete="CASCADE", name="fk_deliveries_digest_id"),
            nullable=False,
        ),
        *_channel_ref(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_until", _timestamp(), nullable=True),
        sa.Column("posted_at", _timestamp(), nullable=True),
        sa.UniqueConstraint("digest_id", "position", name="uq_deliveries_digest_position"),
    )
    op.create_index(
        "ix_deliveries_channel_paper", "deliveries", ["platform", "workspace", "channel", "arxiv_id"]
    )
    op.create_index("ix_deliveries_state", "deliveries", ["state", "claimed_until"])

    op.create_table(
        "paper_messages",
        *_channel_ref(),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace", "channel", "message_id"),
    )


def downgrade() -> None:
    """Drop every table of the first schema (their data with them)."""
    op.drop_table("paper_messages")
    op.drop_index("ix_deliveries_state", table_name="deliveries")
    op.drop_index("ix_deliveries_channel_paper", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("digests")
    op.drop_index("ix_votes_arxiv_id", table_name="votes")
    op.drop_table("votes")
    op.drop_index("ix_topics_channel", table_name="topics")
    op.drop_table("topics")
    op.drop_table("channel_settings")
    op.drop_index("ix_papers_updated_at", table_name="papers")
    op.drop_index("ix_papers_featured_on", table_name="papers")
    op.drop_table("papers")
