"""Several papers per message: `paper_messages` is keyed by (channel, message, paper).

Until now a message showed one paper (a digest reply, a shared card), and the key had no paper in it. A message
someone posts may link several papers, and a 👍 on it votes for each: the paper joins the primary key. Rows
stored so far keep their one paper each.

SQLite cannot change a primary key in place: the table is copied (batch mode), with its index and the `via`
default; nothing refers to it, so no other table is touched. Going down keeps the first paper each message
was shown with (the oldest row), as the old key allows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "paper_messages"
# PostgreSQL named the primary key of 0001's unnamed constraint this way; the new one keeps the name.
_PRIMARY_KEY = "paper_messages_pkey"
_OLD_KEY = ["platform", "workspace", "channel", "message_id"]
_NEW_KEY = [*_OLD_KEY, "arxiv_id"]

# The columns this migration reads, as they stand at this revision.
_rows = sa.table(
    _TABLE,
    sa.column("platform", sa.String()),
    sa.column("workspace", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("message_id", sa.String()),
    sa.column("arxiv_id", sa.String()),
    sa.column("created_at", sa.DateTime()),
)


def _table(primary_key: list[str]) -> sa.Table:
    """paper_messages as 0006 left it, keyed by `primary_key`: what SQLite's copy starts from."""
    return sa.Table(
        _TABLE,
        sa.MetaData(),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(16), nullable=False, server_default="link"),
        sa.PrimaryKeyConstraint(*primary_key, name=_PRIMARY_KEY),
        sa.Index("ix_paper_messages_paper", "platform", "workspace", "arxiv_id"),
    )


def _change_primary_key(old: list[str], new: list[str]) -> None:
    """Key the table by `new` instead of `old` (a copy of the table on SQLite, ALTER TABLE on PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        # The copy starts from the table as declared here rather than as reflected: SQLite reports the key
        # without a name, and a key can only be dropped by its name.
        with op.batch_alter_table(_TABLE, recreate="always", copy_from=_table(old)) as batch:
            batch.drop_constraint(_PRIMARY_KEY, type_="primary")
            batch.create_primary_key(_PRIMARY_KEY, new)
        return
    op.drop_constraint(_PRIMARY_KEY, _TABLE, type_="primary")
    op.create_primary_key(_PRIMARY_KEY, _TABLE, new)


def upgrade() -> None:
    """Key the table by channel, message and paper."""
    _change_primary_key(_OLD_KEY, _NEW_KEY)


def downgrade() -> None:
    """Keep each message's first paper (the oldest row; the lowest id among equals) and key it by message."""
    connection = op.get_bind()
    key = [_rows.c[name] for name in _OLD_KEY]
    rows = connection.execute(
        sa.select(*key, _rows.c.arxiv_id).order_by(*key, _rows.c.created_at, _rows.c.arxiv_id)
    ).all()
    seen: set[tuple[str, ...]] = set()
    extra: list[tuple[str, ...]] = []
    for row in rows:
        message = tuple(row[:4])
        if message in seen:
            extra.append(tuple(row))
        else:
            seen.add(message)
    for values in extra:
        connection.execute(
            sa.delete(_rows).where(
                *(column == value for column, value in zip([*key, _rows.c.arxiv_id], values, strict=True))
            )
        )
    _change_primary_key(_NEW_KEY, _OLD_KEY)
