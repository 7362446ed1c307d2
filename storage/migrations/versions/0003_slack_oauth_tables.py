"""Slack's OAuth tables (installations, bots, OAuth states) under Alembic, as slack_sdk 3.48.0 defines them.

Until this revision the Slack adapter created them itself on its first start with OAuth, so a database may
already hold them, with installations in them: those are kept as they are, and only what is missing is made.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-15
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bot_columns() -> list[sa.Column[Any]]:
    """The bot token columns slack_sdk's installations and bots tables both have, in its order."""
    return [
        sa.Column("bot_token", sa.String(200), nullable=True),
        sa.Column("bot_id", sa.String(32), nullable=True),
        sa.Column("bot_user_id", sa.String(32), nullable=True),
        sa.Column("bot_scopes", sa.String(1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
    ]


def _installation_columns() -> list[sa.Column[Any]]:
    """The columns of slack_installations, in slack_sdk's order."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=True),
        sa.Column("enterprise_url", sa.String(200), nullable=True),
        sa.Column("team_id", sa.String(32), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=True),
        *_bot_columns(),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200), nullable=True),
        sa.Column("user_scopes", sa.String(1000), nullable=True),
        sa.Column("user_refresh_token", sa.String(200), nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("incoming_webhook_url", sa.String(200), nullable=True),
        sa.Column("incoming_webhook_channel", sa.String(200), nullable=True),
        sa.Column("incoming_webhook_channel_id", sa.String(200), nullable=True),
        sa.Column("incoming_webhook_configuration_url", sa.String(200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(32), nullable=True),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    ]


def _bots_columns() -> list[sa.Column[Any]]:
    """The columns of slack_bots, in slack_sdk's order."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=True),
        sa.Column("team_id", sa.String(32), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=True),
        *_bot_columns(),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    ]


def _oauth_state_columns() -> list[sa.Column[Any]]:
    """The columns of slack_oauth_states."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
    ]


TABLES = {
    "slack_installations": _installation_columns,
    "slack_bots": _bots_columns,
    "slack_oauth_states": _oauth_state_columns,
}
# slack_sdk names each index after its table; slack_oauth_states has none.
INDEXES = {
    "slack_installations_idx": (
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    ),
    "slack_bots_idx": ("slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"]),
}


def upgrade() -> None:
    """Create each Slack table and index, unless an earlier Paperboy's first start made it already."""
    bind = op.get_bind()
    for name, columns in TABLES.items():
        if not sa.inspect(bind).has_table(name):
            op.create_table(name, *columns())
    for index, (table, indexed) in INDEXES.items():
        if index not in {found["name"] for found in sa.inspect(bind).get_indexes(table)}:
            op.create_index(index, table, indexed)


def downgrade() -> None:
    """Drop the Slack tables, and the installations in them: every workspace must then install the app again."""
    for index, (table, _indexed) in INDEXES.items():
        op.drop_index(index, table_name=table)
    for name in reversed(TABLES):
        op.drop_table(name)
