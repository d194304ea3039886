"""A run's record on its way in: the rows (Start, End), where they go by default, and the quick way in.

    kept ─▶ start(url, Start) / finish(url, id, End) / prune(url, before)
              ├─ a SQLite file already at the schema's head: the standard library's sqlite3
              └─ anything else (a new file, one to migrate, PostgreSQL, a URL with options): installer.records

Every check, provision and info writes its record, and SQLAlchemy's import alone costs more controller
CPU than a check of one host does beyond its SSH work: so the default database, once created, is written
with the statements below and nothing else. installer/records.py stays the schema's home (its tables, its
Alembic migrations, every read); tests/test_records.py holds both ways to the same rows.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from installer import localfiles
from installer.errors import PyinstallError

HEAD = "0005"  # the newest migration (a test holds it to Alembic's view): Alembic loads only to migrate
OWN_TABLES = {"alembic_version", "runs", "run_hosts"}  # anything else: another program's database
SQLITE_BUSY_SECONDS = 30  # a run waits this long for another run's write (each is milliseconds)
PLAIN_SQLITE = "sqlite:///"


class DatabaseError(PyinstallError):
    """The database cannot be opened, read or written: its URL (password masked) and why, in one line."""


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no name (containers)
        return str(os.getuid())


@dataclass(frozen=True)
class Start:
    """A run's first row (the ``runs`` table's columns, by name)."""

    started: float
    command: str
    argv: str  # secrets already cleaned
    version: str
    inventory: str
    inventory_sha256: str
    controller: str = field(default_factory=socket.gethostname)
    username: str = field(default_factory=_username)
    rollout: str | None = None
    shard: str | None = None
    shard_function: str | None = None
    check_mode: bool = False


@dataclass(frozen=True)
class End:
    ended: float
    exit_status: int
    report: str | None  # as printed; None: the run printed its JSON document (report_json)
    report_json: str  # {"hosts": {name: record}}
    hosts: list[tuple[str, str, str]] = field(default_factory=list)  # (name, status, record as JSON)
    failed: int = 0  # of those, failed or unreachable
    # The command line again, masked of every secret known by the end: an inventory's passwords are known only
    # once it was read, after the run began. None: left as it began.
    argv: str | None = None

    def columns(self) -> dict[str, object]:
        """The ``runs`` columns it sets (the hosts go to ``run_hosts``)."""
        return {k: v for k, v in asdict(self).items() if k != "hosts" and not (k == "argv" and v is None)}


def default_url() -> str:
    """SQLite in $XDG_STATE_HOME/pyinstall (~/.local/state/pyinstall), readable by its owner only."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "pyinstall"
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        why = f"cannot create {state}: {exc.strerror or exc}"
        raise DatabaseError(why, "set XDG_STATE_HOME, or give --database") from None
    return f"{PLAIN_SQLITE}{state / 'runs.sqlite'}"


def start(url: str, run: Start) -> int:
    """Keep a run as it starts; returns its id, for ``finish``."""
    with _current(url) as connection:
        if connection is None:
            from installer import records

            return records.start(url, run)
        names = list(asdict(run))
        cursor = connection.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", list(asdict(run).values())
        )
        return int(cursor.lastrowid or 0)


def finish(url: str, run_id: int, end: End) -> None:
    """Complete a run's record: its end, exit status, report and hosts."""
    with _current(url) as connection:
        if connection is None:
            from installer import records

            return records.finish(url, run_id, end)
        values = end.columns()
        connection.execute(
            f"UPDATE runs SET {', '.join(f'{name} = ?' for name in values)} WHERE id = ?", [*values.values(), run_id]
        )
        connection.executemany(
            "INSERT INTO run_hosts (run_id, host, status, result) VALUES (?, ?, ?, ?)",
            [(run_id, *host) for host in end.hosts],
        )
    return None


def prune(url: str, before: float) -> int:
    """Forget the runs started before ``before`` (seconds since the epoch), their hosts with them; returns
    how many. SQLite's file is compacted afterwards (a deletion alone leaves it as large)."""
    with _current(url) as connection:
        if connection is None:
            from installer import records

            return records.prune(url, before)
        connection.execute("DELETE FROM run_hosts WHERE run_id IN (SELECT id FROM runs WHERE started < ?)", [before])
        gone = connection.execute("DELETE FROM runs WHERE started < ?", [before]).rowcount
    if gone:
        vacuum(Path(url.removeprefix(PLAIN_SQLITE)))
    return gone


def vacuum(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS)) as connection:
        connection.execute("VACUUM")  # outside any transaction, as SQLite requires


def plain_sqlite_path(url: str) -> Path | None:
    """The file of a URL that is ``sqlite:///`` and a path, nothing SQLAlchemy would read otherwise (no
    options, no escapes, not in memory); None for any other."""
    path = url.removeprefix(PLAIN_SQLITE)
    if path == url or not path or any(c in path for c in "?%#") or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


@contextlib.contextmanager
def _current(url: str) -> Iterator[sqlite3.Connection | None]:
    """A write transaction on the plain SQLite file ``url`` names, when it exists with pyinstall's tables at
    the schema's head and no other program's; None otherwise (installer.records creates, migrates or
    refuses it, and speaks every other database). Taken at BEGIN IMMEDIATE, as records takes its writes."""
    path = plain_sqlite_path(url)
    if path is None or not path.is_file():
        yield None
        return
    try:
        localfiles.sqlite_file(path)
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
    except (sqlite3.Error, PyinstallError):
        yield None  # records says why, in its words
        return
    with contextlib.closing(connection):
        try:
            tables = {name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )}  # fmt: skip
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchall() if tables else []
        except sqlite3.Error:
            revision = []
        if tables != OWN_TABLES or revision != [(HEAD,)]:
            yield None
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise DatabaseError(f"{url}: {exc}", "check the file and its directory") from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
