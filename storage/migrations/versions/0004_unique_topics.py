"""Each topic once per channel: a case-folded key and a unique index on (channel, key).

Two subscribes that raced could store one topic twice. This keeps the oldest of each set of duplicates (the
lowest id: the order topics were added in), removes the rest, and adds the index that refuses new ones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns this migration reads and writes, as they stand at this revision (not the code's current tables).
_topics = sa.table(
    "topics",
    sa.column("id", sa.BigInteger()),
    sa.column("platform", sa.String()),
    sa.column("workspace", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("query", sa.Text()),
    sa.column("query_key", sa.Text()),
)


def upgrade() -> None:
    """Add topics.query_key, fill it, delete all but the oldest of each duplicate, then index it uniquely."""
    op.add_column("topics", sa.Column("query_key", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _topics.c.id, _topics.c.platform, _topics.c.workspace, _topics.c.channel, _topics.c.query
        ).order_by(_topics.c.id)
    ).all()
    seen: set[tuple[str, str, str, str]] = set()
    keys: list[dict[str, object]] = []
    duplicates: list[int] = []
    for row in rows:
        # Case-folded in Python, as the store does: SQL's lower() folds only ASCII on SQLite.
        key = row.query.casefold()
        identity = (row.platform, row.workspace, row.channel, key)
        if identity in seen:
            duplicates.append(row.id)
        else:
            seen.add(identity)
            keys.append({"row_id": row.id, "key": key})
    for start in range(0, len(duplicates), 1000):
        connection.execute(sa.delete(_topics).where(_topics.c.id.in_(duplicates[start : start + 1000])))
    if keys:
        connection.execute(
            sa.update(_topics)
            .where(_topics.c.id == sa.bindparam("row_id"))
            .values(query_key=sa.bindparam("key")),
            keys,
        )
    # SQLite cannot make a column NOT NULL in place; batch mode copies the table there (ALTER on PostgreSQL).
    with op.batch_alter_table("topics") as batch:
        batch.alter_column("query_key", existing_type=sa.Text(), nullable=False)
    op.create_index(
        "uq_topics_channel_query", "topics", ["platform", "workspace", "channel", "query_key"], unique=True
    )


def downgrade() -> None:
    """Drop the unique index and the key (the duplicates removed on the way up stay removed)."""
    op.drop_index("uq_topics_channel_query", table_name="topics")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("query_key")
