"""Weekly recaps and the team's leaderboard: digests get a kind, channels a recap day, shown papers a "via".

* `digests.kind` ("daily" or "recap") joins the unique key, so that a channel's recap and its daily digest of
  the same date are two digests, each posted once; `digests.recap` keeps what a recap sums up.
* `channel_settings.recap_day` (Monday 0 … Sunday 6, NULL when off): every channel starts on Friday.
* `paper_messages.via` says how a paper came to be shown (digest, recap, card, link); the rows stored so far
  are digest messages or shared cards, told apart by the deliveries that posted them.
* Indexes for the leaderboard: votes by workspace and time, shown papers by workspace and paper.

SQLite cannot change a table's unique constraint in place: `digests` is copied (batch mode). Dropping the old
table would cascade into `deliveries` (ON DELETE CASCADE, and foreign keys are on), so the deliveries are kept
aside in a temporary table and put back, ids and all, in the same transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KEY = ("platform", "workspace", "channel", "local_date")
_NEW_KEY = ("platform", "workspace", "channel", "kind", "local_date")
_KEEP = "_deliveries_0006"


def _rebuild_digests(change_key: bool, *, upgrade: bool) -> None:
    """Add or drop the digests columns and swap the unique key, keeping every delivery on SQLite."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"CREATE TEMP TABLE {_KEEP} AS SELECT * FROM deliveries")
    with op.batch_alter_table("digests", recreate="always" if sqlite else "auto") as batch:
        if upgrade:
            batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="daily"))
            batch.add_column(sa.Column("recap", sa.JSON(), nullable=True))
        if change_key:
            old, new = ("uq_digests_channel_date", "uq_digests_channel_kind_date")
            if not upgrade:
                old, new = new, old
            batch.drop_constraint(old, type_="unique")
            batch.create_unique_constraint(new, list(_NEW_KEY if upgrade else _OLD_KEY))
        if not upgrade:
            batch.drop_column("recap")
            batch.drop_column("kind")
    if sqlite:
        # Dropping the old `digests` deleted its deliveries (the cascade); the digests kept their ids.
        op.execute(f"DELETE FROM deliveries WHERE id IN (SELECT id FROM {_KEEP})")
        op.execute(
            f"INSERT INTO deliveries SELECT * FROM {_KEEP} WHERE digest_id IN (SELECT id FROM digests)"
        )
        op.execute(f"DROP TABLE {_KEEP}")


def upgrade() -> None:
    """Add the recap columns, the kind to the digests' key, `via` to shown papers, and two indexes."""
    _rebuild_digests(True, upgrade=True)
    op.add_column("channel_settings", sa.Column("recap_day", sa.Integer(), nullable=True, server_default="4"))
    op.add_column("paper_messages", sa.Column("via", sa.String(16), nullable=False, server_default="link"))
    # Before this revision the bot remembered two kinds of messages: digest replies and shared cards.
    op.execute(
        "UPDATE paper_messages SET via = CASE WHEN EXISTS ("
        "SELECT 1 FROM deliveries d WHERE d.platform = paper_messages.platform "
        "AND d.workspace = paper_messages.workspace AND d.channel = paper_messages.channel "
        "AND d.message_id = paper_messages.message_id AND d.arxiv_id = paper_messages.arxiv_id"
        ") THEN 'digest' ELSE 'card' END"
    )
    op.create_index("ix_paper_messages_paper", "paper_messages", ["platform", "workspace", "arxiv_id"])
    op.create_index(
        "ix_votes_workspace_created", "votes", ["platform", "workspace", "created_at", "arxiv_id"]
    )


def downgrade() -> None:
    """Drop what `upgrade` added; recaps go with their deliveries (the old key cannot hold them)."""
    op.drop_index("ix_votes_workspace_created", table_name="votes")
    op.drop_index("ix_paper_messages_paper", table_name="paper_messages")
    with op.batch_alter_table("paper_messages") as batch:
        batch.drop_column("via")
    with op.batch_alter_table("channel_settings") as batch:
        batch.drop_column("recap_day")
    op.execute("DELETE FROM digests WHERE kind = 'recap'")
    _rebuild_digests(True, upgrade=False)
