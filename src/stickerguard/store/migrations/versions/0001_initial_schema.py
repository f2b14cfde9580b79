"""Initial schema: banks, bank_contents, bank_signals (see stickerguard.store.models).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_banks"),
        sa.UniqueConstraint("name", name="uq_banks_name"),
    )
    op.create_table(
        "bank_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("pack", sa.String(length=500), nullable=True),
        sa.Column("animated", sa.Boolean(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_bank_contents_bank_id_banks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bank_contents"),
    )
    op.create_index("ix_bank_contents_bank_id", "bank_contents", ["bank_id"])
    op.create_table(
        "bank_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("collab", sa.String(length=200), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_bank_signals_bank_id_banks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["bank_contents.id"],
            name="fk_bank_signals_content_id_bank_contents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bank_signals"),
    )
    op.create_index("ix_bank_signals_bank_id", "bank_signals", ["bank_id"])
    op.create_index("ix_bank_signals_content_id", "bank_signals", ["content_id"])
    op.create_index("ix_bank_signals_type_value", "bank_signals", ["signal_type", "value"])


def downgrade() -> None:
    op.drop_table("bank_signals")  # drops its indexes too
    op.drop_table("bank_contents")
    op.drop_table("banks")
