"""A per-namespace row count, kept by triggers, so a new key's room check need not count.

Revision ID: k16a
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "k16a"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER kv_entries_counted_insert AFTER INSERT ON kv_entries BEGIN
         INSERT INTO kv_namespace_counts (namespace, stored_keys) VALUES (NEW.namespace, 1)
         ON CONFLICT (namespace) DO UPDATE SET stored_keys = stored_keys + 1;
       END""",
    """CREATE TRIGGER kv_entries_counted_delete AFTER DELETE ON kv_entries BEGIN
         UPDATE kv_namespace_counts SET stored_keys = stored_keys - 1
         WHERE namespace = OLD.namespace;
       END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION kv_entries_count() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           INSERT INTO kv_namespace_counts (namespace, stored_keys) VALUES (NEW.namespace, 1)
           ON CONFLICT (namespace) DO UPDATE SET stored_keys = kv_namespace_counts.stored_keys + 1;
         ELSE
           UPDATE kv_namespace_counts SET stored_keys = stored_keys - 1
           WHERE namespace = OLD.namespace;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER kv_entries_counted AFTER INSERT OR DELETE ON kv_entries
       FOR EACH ROW EXECUTE FUNCTION kv_entries_count()""",
]


def upgrade() -> None:
    op.create_table(
        "kv_namespace_counts",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("stored_keys", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO kv_namespace_counts (namespace, stored_keys) "
               "SELECT namespace, COUNT(*) FROM kv_entries GROUP BY namespace")
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER kv_entries_counted_insert")
        op.execute("DROP TRIGGER kv_entries_counted_delete")
    else:
        op.execute("DROP TRIGGER kv_entries_counted ON kv_entries")
        op.execute("DROP FUNCTION kv_entries_count()")
    op.drop_table("kv_namespace_counts")
