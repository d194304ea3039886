"""Which function put hosts in shards: a rollout's shards must all use the same one, or hosts would be
missed or done twice (NULL: rendezvous hashing, the function before jump consistent hashing)."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("shard_function", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("shard_function")
