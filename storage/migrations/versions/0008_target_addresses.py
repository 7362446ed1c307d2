"""Where a platform delivers a target: `channel_settings.address`, a Slack person's D… conversation.

A person's own digest target (`slack:T1:@U1`) names a user; Slack delivers to the D… conversation that
conversations.open answers, a call Slack rations to about 50 a minute per workspace. Kept beside the target's
settings, it survives a restart and each day's `paperboy digest --due`, which then open no conversation again;
it goes with the settings (a person forgotten, a workspace uninstalled). NULL: not known yet (every row so far,
and every channel, whose id is its address).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable channel_settings.address (as wide as a channel reference part)."""
    op.add_column("channel_settings", sa.Column("address", sa.String(128), nullable=True))


def downgrade() -> None:
    """Drop channel_settings.address: the next deliveries ask the platform again."""
    with op.batch_alter_table("channel_settings") as batch:
        batch.drop_column("address")
