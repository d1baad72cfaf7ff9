"""Several hosts on one board: the hosts table with leases, executions' host and abort request,
and an insertion-order column (``seq``, from a sequence on PostgreSQL).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ORDERED = ("teams", "agents", "tasks", "comments", "workspaces", "executions")


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("url", sa.Text),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("heartbeat_at", sa.Text, nullable=False),
        sa.Column("lease_s", sa.Float, nullable=False, server_default="30"),
        sa.Column("stopped_at", sa.Text),
        sa.Column("machine", sa.Text),
        sa.Column("data_dir", sa.Text),
        sa.Column("pid", sa.Integer),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in ORDERED:
        # New rows draw from the sequence on PostgreSQL; SQLite orders by rowid instead.
        if postgres:
            op.execute(sa.schema.CreateSequence(sa.Sequence(f"{table}_seq")))
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("seq", sa.BigInteger, nullable=True))
    with op.batch_alter_table("executions", recreate="never") as batch:
        batch.add_column(sa.Column("host_id", sa.Text))
        batch.add_column(sa.Column("abort_requested", sa.Text))
    op.create_index("idx_executions_host", "executions", ["host_id", "status"])
