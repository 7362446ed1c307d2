"""Paper embeddings for semantic search (the optional `semantic` extra): one vector per paper and model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the paper_embeddings table."""
    op.create_table(
        "paper_embeddings",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE", name="fk_paper_embeddings_arxiv_id"),
            nullable=False,
        ),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "arxiv_id"),
    )
    op.create_index("ix_paper_embeddings_model_updated_at", "paper_embeddings", ["model", "updated_at"])


def downgrade() -> None:
    """Drop the paper_embeddings table (embeddings are derived data: `paperboy index embeddings` remakes them)."""
    op.drop_index("ix_paper_embeddings_model_updated_at", table_name="paper_embeddings")
    op.drop_table("paper_embeddings")
