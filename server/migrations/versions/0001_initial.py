"""Key-value entries and the task-start audit log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kv_entries",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("ttl_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_kv_entries_expires_at_ms", "kv_entries", ["expires_at_ms"])
    op.create_table(
        "task_start_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("entry_point", sa.String(32), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_start_audit")
    op.drop_index("ix_kv_entries_expires_at_ms", "kv_entries")
    op.drop_table("kv_entries")
