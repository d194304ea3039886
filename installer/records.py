"""Every run of check, provision and info, kept: when, where and by whom, the command line, the
inventory (path and checksum), the report as it was printed and each host's record (findings, tasks,
docker info). A run is written when it starts, so one killed on the way is still listed (unfinished).
SQLite in the user's state directory by default; PostgreSQL (postgresql://...) for a team's controllers,
with --database or PYINSTALL_DATABASE. The schema is Alembic's, versioned in installer/migrations.

    cli ─▶ start(url, Start) ─▶ runs ◀─ finish(url, id, End) ─▶ run_hosts
    runs(url, filters) / run(url, id) / host_history(url, name) / prune(url, before) ─▶ `pyinstall runs`
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from installer import localfiles, package_path
from installer.errors import PyinstallError, UsageError
from installer.runlog import HEAD, OWN_TABLES, SQLITE_BUSY_SECONDS, DatabaseError, End, Start, default_url, vacuum
from installer.vocabulary import RUN_STATUSES

__all__ = ["DatabaseError", "End", "Start", "default_url"]  # the rows and the default place, from runlog

MIGRATIONS = package_path("migrations")
CONNECT_SECONDS = 10  # a database server that does not answer delays a run by no more than this
MIGRATION_LOCK = 0x70796E73  # PostgreSQL advisory lock key: one controller migrates at a time
URL_HINT = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE"


metadata = sa.MetaData()
runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),  # NULL: unfinished (running, or killed on the way)
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("argv", sa.Text, nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("inventory", sa.Text, nullable=False),
    sa.Column("inventory_sha256", sa.String(64), nullable=False),
    sa.Column("controller", sa.String(255), nullable=False),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("exit_status", sa.Integer),
    sa.Column("report", sa.Text),
    sa.Column("report_json", sa.Text),
    sa.Column("rollout", sa.String(128), index=True),  # shared by the shards of one rollout
    sa.Column("shard", sa.String(16)),  # "K/N"
    sa.Column("shard_function", sa.String(16)),  # rollout.SHARD_FUNCTION when it ran; NULL: rendezvous
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),  # failed or unreachable hosts so far
    sa.Column("check_mode", sa.Boolean, nullable=False, server_default=sa.false()),  # --check: nothing changed
)
hosts_table = sa.Table(
    "run_hosts",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)


def parse_url(url: str) -> sa.URL:
    """A database URL as the user wrote it; postgresql:// means the psycopg driver (the one pyinstall
    ships with its postgresql extra), not SQLAlchemy's older default."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise UsageError(f"--database: not a database URL: {_masked(url)!r}", URL_HINT) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: str) -> str:
    """The URL with its password masked: for messages."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except UsageError:
        return "the database"


_ready: set[str] = set()
_lock = threading.Lock()


def _masked(url: str) -> str:
    """A URL that did not parse, its user-information cut (it may hold a password)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else url


def _engine(url: str) -> sa.Engine:
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            localfiles.sqlite_file(Path(parsed.database))
        try:
            engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        except sa.exc.ArgumentError as exc:  # sqlite://x: a host where a path belongs
            raise UsageError(f"--database: {_masked(url)!r}: {str(exc).splitlines()[0]}", URL_HINT) from None

        # pysqlite opens its transactions late, after DDL has already run outside them: take the write
        # lock at BEGIN instead, so runs that meet (and their first migration) wait for each other.
        @sa.event.listens_for(engine, "connect")
        def _autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            writes = connection.get_execution_options().get("writes")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    else:
        try:
            engine = sa.create_engine(parsed, connect_args={"connect_timeout": CONNECT_SECONDS})
        except ModuleNotFoundError as exc:
            raise UsageError(f"no driver for {backend}: {exc}",
                             "pip install 'pyinstall[postgresql]' for PostgreSQL") from None  # fmt: skip
        except sa.exc.NoSuchModuleError:
            raise UsageError(f"--database: {backend!r} is not a database pyinstall keeps runs in", URL_HINT) from None
    with _lock:
        if url not in _ready:
            _migrate(engine)
            _ready.add(url)
    return engine


def _revision(connection: sa.Connection) -> str | None:
    """The schema's revision, as Alembic records it; None on a new database."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision. Many runs may start at once on a new database, on one
    controller or several: the one that holds the lock migrates, the others find it done."""
    with engine.connect() as connection:
        foreign = set(sa.inspect(connection).get_table_names()) - OWN_TABLES
        if foreign:
            raise DatabaseError(
                f"{shown(str(engine.url))} holds tables pyinstall did not create ({', '.join(sorted(foreign)[:5])}): "
                "not extended",
                "give pyinstall a database of its own",
            )
        if _revision(connection) == HEAD:
            return  # the usual case: read only, no lock
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect().execution_options(writes=True) as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _connected(url: str, write: bool = False) -> Iterator[sa.Connection]:
    """A connection (a transaction when ``write``), its engine disposed afterwards: one run, one use. Any
    driver's failure becomes a DatabaseError naming the database and the cause."""
    try:
        shared = _read_only.get(url)
        engine = shared or _engine(url)
        try:
            with engine.connect().execution_options(writes=write) as connection:
                if write:
                    with connection.begin():
                        yield connection
                else:
                    yield connection
        finally:
            if shared is None:
                engine.dispose()
    except PyinstallError:
        raise
    except (sa.exc.SQLAlchemyError, OSError, ValueError) as exc:  # ValueError: a host name no resolver takes
        raise DatabaseError(f"{shown(url)}: {cause(exc)}", _database_hint(url)) from None


_read_only: dict[str, sa.Engine] = {}


def open_read_only(url: str) -> None:
    """For `runs serve`: the database opened read-only for the process's life (SQLite's file in mode=ro, a
    PostgreSQL session that refuses writes), and never migrated: its schema must be the one this pyinstall
    reads. Every later call with ``url`` uses that engine."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = Path(parsed.database or "")
            if not path.is_file():
                raise DatabaseError(f"{shown(url)}: no such database file", "give the database the runs were kept in")
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=SQLITE_BUSY_SECONDS)

            engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.QueuePool)
        else:
            read_only = {"connect_timeout": CONNECT_SECONDS, "options": "-c default_transaction_read_only=on"}
            engine = sa.create_engine(parsed, connect_args=read_only)
        with engine.connect() as connection:
            revision = _revision(connection)
    except PyinstallError:
        raise
    except (sa.exc.SQLAlchemyError, OSError, ValueError, ModuleNotFoundError) as exc:
        raise DatabaseError(f"{shown(url)}: {cause(exc)}", _database_hint(url)) from None
    if revision != HEAD:
        raise DatabaseError(
            f"{shown(url)} is at schema {revision or 'none'}, this pyinstall reads {HEAD}: not served (it is "
            "opened read-only, so it is never migrated here)",
            "run `pyinstall runs --database URL` once (it migrates), or serve it with the pyinstall that wrote it",
        )
    _read_only[url] = engine


def cause(exc: Exception) -> str:
    """A database error in one line: the project's message, or the driver's (SQLAlchemy wraps it, and
    appends a link)."""
    why = (exc.message if isinstance(exc, PyinstallError) else str(getattr(exc, "orig", None) or exc)).strip()
    return why.splitlines()[0] if why else type(exc).__name__


def _database_hint(url: str) -> str:
    if parse_url(url).get_backend_name() == "sqlite":
        return "check the file and its directory"
    return "is the database server up, reachable from here, and the URL's user allowed in?"


def start(url: str, run: Start) -> int:
    """Keep a run as it starts; returns its id, for ``finish``."""
    with _connected(url, write=True) as connection:
        return int(connection.execute(runs_table.insert().values(**asdict(run))).inserted_primary_key[0])


def finish(url: str, run_id: int, end: End) -> None:
    """Complete a run's record: its end, exit status, report and hosts."""
    with _connected(url, write=True) as connection:
        connection.execute(runs_table.update().where(runs_table.c.id == run_id).values(**end.columns()))
        if end.hosts:
            connection.execute(
                hosts_table.insert(),
                [{"run_id": run_id, "host": name, "status": status, "result": result}
                 for name, status, result in end.hosts],
            )  # fmt: skip


def shard_functions(url: str, rollout_id: str) -> set[str | None]:
    """The shard functions the rollout's sharded runs used so far (None: the one before they were kept)."""
    with _connected(url) as connection:
        rows = connection.execute(
            sa.select(runs_table.c.shard_function).distinct()
            .where(runs_table.c.rollout == rollout_id, runs_table.c.shard.is_not(None))
        ).all()  # fmt: skip
    return {f for (f,) in rows}


def rollout_failed(url: str, run_id: int, rollout: str, failed: int) -> int:
    """Between two batches of a shard: record this run's failed hosts so far, and return the count across
    the rollout: the latest run of each of its shards of this command (a shard run again replaces its
    earlier run), on this controller or others."""
    with _connected(url, write=True) as connection:
        connection.execute(runs_table.update().where(runs_table.c.id == run_id).values(failed=failed))
        command_name = sa.select(runs_table.c.command).where(runs_table.c.id == run_id).scalar_subquery()
        latest = (
            sa.select(sa.func.max(runs_table.c.id))
            .where(runs_table.c.rollout == rollout, runs_table.c.command == command_name)
            .group_by(runs_table.c.shard)
        )
        total = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(runs_table.c.failed), 0)).where(runs_table.c.id.in_(latest))
        ).scalar_one()
    return int(total)


def run_status(ended: float | None, exit_status: int | None) -> str:
    """A run's status in one word (vocabulary.RUN_STATUSES): what `runs --status` filters on."""
    if ended is None:
        return "unfinished"
    return RUN_STATUSES.get(exit_status if exit_status is not None else 1, "error")


@dataclass(frozen=True)
class Filters:
    """Which runs `runs` lists: every one given must hold."""

    command: str | None = None
    status: str | None = None  # one of vocabulary.RUN_STATUS_WORDS
    host: str | None = None  # runs that worked on this host
    since: float | None = None  # started at or after (seconds since the epoch)
    rollout: str | None = None

    def where(self) -> list[Any]:
        c = runs_table.c
        clauses: list[Any] = []
        if self.command:
            clauses.append(c.command == self.command)
        if self.rollout:
            clauses.append(c.rollout == self.rollout)
        if self.since is not None:
            clauses.append(c.started >= self.since)
        if self.host:
            clauses.append(c.id.in_(sa.select(hosts_table.c.run_id).where(hosts_table.c.host == self.host)))
        if self.status == "unfinished":
            clauses.append(c.ended.is_(None))
        elif self.status:
            clause = c.exit_status.in_([code for code, word in RUN_STATUSES.items() if word == self.status])
            if self.status == "error":  # and any exit status no other word has
                clause = clause | c.exit_status.not_in(list(RUN_STATUSES)) | c.exit_status.is_(None)
            clauses += [c.ended.is_not(None), clause]
        return clauses


def runs(url: str, limit: int = 50, filters: Filters = Filters(), offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The latest runs that pass ``filters``, newest first, each with its hosts counted by status and its
    status in a word; and how many passed in all (the list stops at ``limit``)."""
    where = filters.where()
    with _connected(url) as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(runs_table).where(*where)).scalar_one()
        rows = connection.execute(
            sa.select(runs_table.c.id, runs_table.c.started, runs_table.c.ended, runs_table.c.command,
                      runs_table.c.exit_status, runs_table.c.controller, runs_table.c.username,
                      runs_table.c.inventory, runs_table.c.rollout, runs_table.c.shard, runs_table.c.check_mode,
                      runs_table.c.argv)
            .where(*where).order_by(runs_table.c.id.desc()).limit(limit).offset(offset)
        ).all()  # fmt: skip
        counts = connection.execute(
            sa.select(hosts_table.c.run_id, hosts_table.c.status, sa.func.count())
            .where(hosts_table.c.run_id.in_([r.id for r in rows]))
            .group_by(hosts_table.c.run_id, hosts_table.c.status)
        ).all()
    by_run: dict[int, dict[str, int]] = {}
    for run_id, status, n in counts:
        by_run.setdefault(run_id, {})[status] = n
    listed = [{**r._asdict(), "status": run_status(r.ended, r.exit_status), "hosts": by_run.get(r.id, {})}
              for r in rows]  # fmt: skip
    return listed, int(total)


def prune(url: str, before: float) -> int:
    """Forget the runs started before ``before`` (seconds since the epoch), their hosts with them; returns
    how many. SQLite's file is compacted afterwards (a deletion alone leaves it as large)."""
    old = sa.select(runs_table.c.id).where(runs_table.c.started < before)
    with _connected(url, write=True) as connection:
        connection.execute(hosts_table.delete().where(hosts_table.c.run_id.in_(old)))
        gone = connection.execute(runs_table.delete().where(runs_table.c.started < before)).rowcount
    parsed = parse_url(url)
    if gone and parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        vacuum(Path(parsed.database))
    return int(gone)


def run(url: str, run_id: int) -> dict[str, Any] | None:
    with _connected(url) as connection:
        row = connection.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
    return None if row is None else _loaded(row)


def rollout(url: str, rollout_id: str) -> list[dict[str, Any]]:
    """Every run of a rollout (its shards, and any run again with the same id), oldest first."""
    with _connected(url) as connection:
        rows = connection.execute(
            sa.select(runs_table).where(runs_table.c.rollout == rollout_id).order_by(runs_table.c.id)
        ).all()
    return [_loaded(row) for row in rows]


def _loaded(row: sa.Row[Any]) -> dict[str, Any]:
    found = row._asdict()
    found["report_json"] = json.loads(found["report_json"] or '{"hosts": {}}')
    found["status"] = run_status(found["ended"], found["exit_status"])
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
        tasks = record.get("tasks", [])
        history.append({
            "run": run_id, "started": started, "command": command_name, "status": status,
            "changed": [t["name"] for t in tasks if t.get("status") == "changed"],
            "would_change": [t["name"] for t in tasks if t.get("status") == "would change"],
            "version": info.get("server_version"), "storage_driver": info.get("storage_driver"),
        })  # fmt: skip
    return history
