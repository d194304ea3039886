"""Shards of one rollout (--shard K/N, --rollout ID): each run says which rollout and shard it is, and
keeps its count of failed hosts up to date between batches, for the rollout-wide failure budget."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("rollout", sa.String(128)))
        batch.add_column(sa.Column("shard", sa.String(16)))
        batch.add_column(sa.Column("failed", sa.Integer, nullable=False, server_default="0"))
    op.create_index("runs_rollout", "runs", ["rollout"])


def downgrade() -> None:
    op.drop_index("runs_rollout", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("failed")
        batch.drop_column("shard")
        batch.drop_column("rollout")
