"""Events acted on, for every replica to see (Slack's retries), and leases of jobs one replica runs at a time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the event_keys and leases tables."""
    op.create_table(
        "event_keys",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_event_keys_seen_at", "event_keys", ["seen_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Drop both tables (what they hold matters for minutes: a retry window, a refresh period)."""
    op.drop_table("leases")
    op.drop_index("ix_event_keys_seen_at", table_name="event_keys")
    op.drop_table("event_keys")
