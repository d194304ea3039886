"""Runs are written when they start (their end, exit status and report come later) and say which
controller and user ran them."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

FILLED_AT_THE_END = (("ended", sa.Float), ("exit_status", sa.Integer), ("report", sa.Text), ("report_json", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("controller", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("username", sa.String(255), nullable=False, server_default=""))
        for name, type_ in FILLED_AT_THE_END:
            batch.alter_column(name, existing_type=type_, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM runs WHERE ended IS NULL")  # 0001 has no unfinished runs
    with op.batch_alter_table("runs") as batch:
        for name, type_ in FILLED_AT_THE_END:
            batch.alter_column(name, existing_type=type_, nullable=False)
        batch.drop_column("username")
        batch.drop_column("controller")
