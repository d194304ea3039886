"""Every run of check, provision and info, kept: when, the command line, the inventory (path and
checksum), the report as it was printed and each host's record (findings, tasks, docker info). SQLite in
the user's state directory by default; any database URL SQLAlchemy knows with --database or
PYINSTALL_DATABASE. The schema is Alembic's, versioned in installer/migrations.

    cli ─▶ record(url, Run) ─▶ runs, run_hosts          runs(url) / run(url, id) ─▶ `pyinstall runs`
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

metadata = sa.MetaData()
runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("ended", sa.Float, nullable=False),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("argv", sa.Text, nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("inventory", sa.Text, nullable=False),
    sa.Column("inventory_sha256", sa.String(64), nullable=False),
    sa.Column("exit_status", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
)
hosts_table = sa.Table(
    "run_hosts",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Run:
    started: float
    ended: float
    command: str
    argv: str
    version: str
    inventory: str
    inventory_sha256: str
    exit_status: int
    report: str  # as printed
    report_json: str  # {"hosts": {name: record}}
    hosts: list[tuple[str, str, str]] = field(default_factory=list)  # (name, status, record as JSON)


def default_url() -> str:
    """SQLite in $XDG_STATE_HOME/pyinstall (~/.local/state/pyinstall), readable by its owner only."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "pyinstall"
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state / "runs.sqlite"
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return f"sqlite:///{path}"


_ready: set[str] = set()
_lock = threading.Lock()


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    with _lock:
        if url not in _ready:
            with engine.begin() as connection:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            _ready.add(url)
    return engine


@contextmanager
def _connected(url: str, write: bool = False) -> Iterator[sa.Connection]:
    """A connection (a transaction when ``write``), its engine disposed afterwards: one run, one use."""
    engine = _engine(url)
    try:
        with engine.begin() if write else engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def record(url: str, run: Run) -> int:
    """Store one run; returns its id."""
    with _connected(url, write=True) as connection:
        values = {k: v for k, v in run.__dict__.items() if k != "hosts"}
        run_id = connection.execute(runs_table.insert().values(**values)).inserted_primary_key[0]
        if run.hosts:
            connection.execute(
                hosts_table.insert(),
                [
                    {"run_id": run_id, "host": name, "status": status, "result": result}
                    for name, status, result in run.hosts
                ],
            )
    return int(run_id)


def runs(url: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first, each with its hosts counted by status."""
    with _connected(url) as connection:
        rows = connection.execute(
            sa.select(runs_table.c.id, runs_table.c.started, runs_table.c.command, runs_table.c.exit_status,
                      runs_table.c.inventory).order_by(runs_table.c.id.desc()).limit(limit)
        ).all()  # fmt: skip
        counts = connection.execute(
            sa.select(hosts_table.c.run_id, hosts_table.c.status, sa.func.count())
            .where(hosts_table.c.run_id.in_([r.id for r in rows]))
            .group_by(hosts_table.c.run_id, hosts_table.c.status)
        ).all()
    by_run: dict[int, dict[str, int]] = {}
    for run_id, status, n in counts:
        by_run.setdefault(run_id, {})[status] = n
    return [{**r._asdict(), "hosts": by_run.get(r.id, {})} for r in rows]


def run(url: str, run_id: int) -> dict[str, Any] | None:
    with _connected(url) as connection:
        row = connection.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
    if row is None:
        return None
    found = row._asdict()
    found["report_json"] = json.loads(found["report_json"])
    return found


def host_history(url: str, host: str, limit: int = 50) -> list[dict[str, Any]]:
    """One host across the runs kept, newest first: when, which command, its status, what changed, and
    the Docker version and storage driver it ran."""
    with _connected(url) as connection:
        rows = connection.execute(
            sa.select(runs_table.c.id, runs_table.c.started, runs_table.c.command, hosts_table.c.status,
                      hosts_table.c.result)
            .join(hosts_table, hosts_table.c.run_id == runs_table.c.id)
            .where(hosts_table.c.host == host)
            .order_by(runs_table.c.id.desc())
            .limit(limit)
        ).all()  # fmt: skip
    history = []
    for run_id, started, command_name, status, result in rows:
        record = json.loads(result)
        info = record.get("docker_info") or {}
        changed = [t["name"] for t in record.get("tasks", []) if t.get("status") == "changed"]
        history.append({
            "run": run_id, "started": started, "command": command_name, "status": status, "changed": changed,
            "version": info.get("server_version"), "storage_driver": info.get("storage_driver"),
        })  # fmt: skip
    return history
