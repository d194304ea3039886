"""A throwaway PostgreSQL server for the run records' tests: Debian's postgresql package, a cluster of
its own in a temporary directory, password (SCRAM) authentication on 127.0.0.1, removed afterwards.

PostgreSQL refuses to run as root: when the tests are root, the server runs as the ``postgres`` user the
package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

USER = "pyinstall"
PASSWORD = "canary-pg/7c1e@x%"  # characters that a URL must encode: the records must hide both forms


def binaries() -> Path | None:
    """The newest installed server's bin directory (/usr/lib/postgresql/VERSION/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yields its URL (postgresql://USER:PASSWORD@127.0.0.1:PORT) for ``database``."""
    bin_dir = binaries()
    assert bin_dir, "no PostgreSQL server installed (apt-get install postgresql)"
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="pyinstall-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, password_file = root / "data", root / "password"
    password_file.write_text(PASSWORD + "\n")
    if as_user:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(password_file),
                    "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"],
                   check=True, capture_output=True)  # fmt: skip
    port = _free_port()
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={port}", "-c", f"unix_socket_directories={root}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        yield f"postgresql://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}"
    finally:
        process.terminate()  # SIGTERM: a smart shutdown; the clients are gone by now
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def database(url: str, name: str) -> str:
    """A new, empty database on the server at ``url`` (waiting for the server to accept); its URL."""
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(f"{url}/postgres", autocommit=True, connect_timeout=5) as connection:
                connection.execute(f"CREATE DATABASE {name}")
                return f"{url}/{name}"
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def dump(url: str) -> str:
    """Every row of every table in the database, as text: what a secret must not be found in."""
    import psycopg

    with psycopg.connect(url) as connection:
        tables = [r[0] for r in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"'))
