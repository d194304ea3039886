"""Runs under --check are kept as such: a column says so, and their steps and hosts say "would change",
never "changed". Runs kept before are told by their command line, and their records rewritten."""

import json
import shlex

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

CHANGED, WOULD_CHANGE = "changed", "would change"


FLAGS = set("CDJKbhkv")  # provision's and remove's short options that take no value, as of this revision


def _checked(argv: str) -> bool:
    """-C / --check among the options of provision or remove. Short flags may be bundled (-vC), and a short
    option that takes a value may carry it (-lC: the limit "C")."""
    try:
        words = shlex.split(argv)
    except ValueError:
        return False
    for word in words:
        if word == "--":
            break
        if word == "--check":
            return True
        if word.startswith("-") and not word.startswith("--"):
            for letter in word[1:]:
                if letter == "C":
                    return True
                if letter not in FLAGS:
                    break
    return False


def _relabel(record: dict, to: str, source: str) -> dict:
    for task in record.get("tasks") or []:
        if task.get("status") == source:
            task["status"] = to
    if record.get("status") == source:
        record["status"] = to
    if to == WOULD_CHANGE:
        record["would_change"], record["changed"] = record.get("changed", 0), 0
    else:
        record["changed"] = record.pop("would_change", 0)
    return record


def _rewrite(to: str, source: str, checked: bool) -> None:
    connection = op.get_bind()
    runs = sa.table("runs", sa.column("id"), sa.column("argv"), sa.column("command"), sa.column("report_json"),
                    sa.column("check_mode"))  # fmt: skip
    hosts = sa.table("run_hosts", sa.column("run_id"), sa.column("host"), sa.column("status"), sa.column("result"))
    rows = connection.execute(
        sa.select(runs.c.id, runs.c.argv, runs.c.report_json).where(runs.c.command.in_(("provision", "remove")))
    ).all()
    for run_id, argv, report_json in rows:
        if checked and not _checked(argv):
            continue
        if not checked and not connection.execute(sa.select(runs.c.check_mode).where(runs.c.id == run_id)).scalar():
            continue
        values: dict = {"check_mode": checked}
        if report_json:
            document = json.loads(report_json)
            for name, record in (document.get("hosts") or {}).items():
                document["hosts"][name] = _relabel(record, to, source)
            values["report_json"] = json.dumps(document)
        connection.execute(runs.update().where(runs.c.id == run_id).values(**values))
        for host, result in connection.execute(
            sa.select(hosts.c.host, hosts.c.result).where(hosts.c.run_id == run_id)
        ).all():
            record = _relabel(json.loads(result), to, source)
            connection.execute(
                hosts.update()
                .where(hosts.c.run_id == run_id, hosts.c.host == host)
                .values(result=json.dumps(record), status=record.get("status"))
            )


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("check_mode", sa.Boolean, nullable=False, server_default=sa.false()))
    _rewrite(WOULD_CHANGE, CHANGED, checked=True)


def downgrade() -> None:
    _rewrite(CHANGED, WOULD_CHANGE, checked=False)
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("check_mode")
