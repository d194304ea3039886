"""Runs and the hosts of each run."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("ended", sa.Float, nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("argv", sa.Text, nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("inventory", sa.Text, nullable=False),
        sa.Column("inventory_sha256", sa.String(64), nullable=False),
        sa.Column("exit_status", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),  # as it was printed
        sa.Column("report_json", sa.Text, nullable=False),
    )
    op.create_table(
        "run_hosts",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=False),  # the host's JSON record: findings, tasks, docker info
    )
    op.create_index("run_hosts_by_host", "run_hosts", ["host"])


def downgrade() -> None:
    op.drop_table("run_hosts")
    op.drop_table("runs")
