"""Faults at every I/O boundary of the controller, each enumerated once in FAULTS: the command says one line
naming the path (or database) and the cause, and exits with the status the fault deserves; never a
traceback. A fault in a file the run only leaves behind (log, reports) is a warning: the hosts' status
stands. The same inputs fuzzed (hypothesis) end the same way."""

from __future__ import annotations

import os
import sqlite3
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from installer.cli import ExitStatus, main

HOSTS = ExitStatus.UNREACHABLE  # the hosts' own status: the inventory's one host refuses at once


@dataclass(frozen=True)
class Fault:
    name: str
    argv: Callable[[Path, Path], list[str]]  # (tmp_path, inventory) -> the command line
    status: ExitStatus
    said: tuple[str, ...]  # what the one line says: the path and the cause
    setup: Callable[[Path], object] = lambda tmp: None
    env: Callable[[Path], dict[str, str]] = lambda tmp: {}


def _fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo")


def _dir(tmp: Path) -> None:
    (tmp / "dir").mkdir()


def _other_db(tmp: Path) -> None:
    with sqlite3.connect(tmp / "other.sqlite") as db:
        db.execute("CREATE TABLE cookies (name TEXT)")


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_bytes(data)


def config_at(name: str) -> Callable[[Path], dict[str, str]]:
    return lambda tmp: {"PYINSTALL_CONFIG": str(tmp / name)}


def check(*more: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, inv: ["check", str(inv), *[m.format(tmp=tmp) for m in more]]


def runs(url: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, inv: ["runs", "--database", url.format(tmp=tmp)]


USAGE, ERROR = ExitStatus.USAGE, ExitStatus.ERROR
FAULTS = [
    # the debug log: a warning, the run goes on
    Fault("log on a full disk", check("--log-file", "/dev/full"), HOSTS, ("/dev/full", "No space left on device")),
    Fault("log to a FIFO nobody reads", check("--log-file", "{tmp}/fifo"), HOSTS, ("fifo", "a FIFO with no reader"),
          _fifo),
    Fault("log in a missing directory", check("--log-file", "{tmp}/none/run.log"), HOSTS,
          ("none/run.log", "No such file or directory")),
    Fault("log is a directory", check("--log-file", "{tmp}/dir"), HOSTS, ("dir", "Is a directory"), _dir),
    # the files a run leaves: warnings
    Fault("JUnit on a full disk", check("--junit-xml", "/dev/full"), HOSTS, ("/dev/full", "No space left on device")),
    Fault("JUnit in a missing directory", check("--junit-xml", "{tmp}/none/x.xml"), HOSTS,
          ("none/x.xml", "No such file or directory")),
    Fault("report file is a directory", lambda tmp, inv: ["provision", str(inv), "--report-file", str(tmp / "dir")],
          HOSTS, ("dir", "Is a directory"), _dir),
    Fault("retry file on a full disk", lambda tmp, inv: ["provision", str(inv), "--retry-file", "/dev/full"], HOSTS,
          ("/dev/full", "No space left on device")),
    Fault("HTML on a full disk", lambda tmp, inv: ["info", str(inv), "--html", "/dev/full"], HOSTS,
          ("/dev/full", "No space left on device")),
    # the run database: a run goes on unkept; `runs` cannot
    Fault("database in a missing directory", runs("sqlite:///{tmp}/none/runs.sqlite"), ERROR,
          ("none/runs.sqlite", "No such file or directory")),
    Fault("database is a directory", runs("sqlite:///{tmp}/dir"), ERROR, ("dir", "is not a file"), _dir),
    Fault("database of another program", runs("sqlite:///{tmp}/other.sqlite"), ERROR,
          ("other.sqlite", "holds tables pyinstall did not create (cookies)"), _other_db),
    Fault("database not SQLite", runs("sqlite:///{tmp}/junk"), ERROR, ("junk", "file is not a database"),
          _file("junk", b"not a database at all, " * 100)),
    Fault("database server refusing", runs("postgresql://u:secret@127.0.0.1:1/db"), ERROR,
          ("127.0.0.1:1", "Connection refused")),
    Fault("database host no resolver takes", runs("postgresql://u:secret@./db"), ERROR,
          ("postgresql", "label empty or too long")),
    Fault("database URL of no known kind", runs("foo://x"), USAGE, ("'foo'", "is not a database")),
    Fault("database URL with a bad port", runs("postgresql://u:secret@[::1"), USAGE, ("not a database URL",)),
    Fault("database URL with a host for SQLite", runs("sqlite://x"), USAGE, ("sqlite://x", "Invalid SQLite URL")),
    Fault("database not kept during a run", check("--database", "sqlite:///{tmp}/none/runs.sqlite"), HOSTS,
          ("the run is not kept", "none/runs.sqlite")),
    Fault("state directory not creatable", lambda tmp, inv: ["runs"], ERROR, ("cannot create", "Not a directory"),
          _file("state", b""), lambda tmp: {"XDG_STATE_HOME": str(tmp / "state")}),
    # what the run reads
    Fault("config not UTF-8", lambda tmp, inv: ["config"], USAGE, ("pyinstall.cfg", "not UTF-8"),
          _file("pyinstall.cfg", b"[defaults]\nforks = \xff\n"), config_at("pyinstall.cfg")),
    Fault("config malformed", check(), USAGE, ("pyinstall.cfg",), _file("pyinstall.cfg", b"forks = 3\n"),
          config_at("pyinstall.cfg")),
    Fault("config missing", check(), USAGE, ("PYINSTALL_CONFIG", "no such file"),
          env=config_at("none.cfg")),
    Fault("inventory missing", lambda tmp, inv: ["check", str(tmp / "none.ini")], USAGE, ("none.ini",)),
    Fault("inventory not UTF-8", lambda tmp, inv: ["check", str(tmp / "bad.ini")], USAGE, ("bad.ini",),
          _file("bad.ini", b"web1 x=\xff\n")),
    Fault("password file a directory", check("--become-password-file", "{tmp}/dir"), USAGE,
          ("--become-password-file", "dir", "Is a directory"), _dir),
    Fault("private key missing", check("--private-key", "{tmp}/none_key"), USAGE,
          ("none_key", "No such file or directory")),
]  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_fault_is_one_line_naming_path_and_cause_with_its_exit_status(
    fault: Fault, tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fault.setup(tmp_path)
    for name, value in fault.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    status = main(fault.argv(tmp_path, unreachable))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status == fault.status, err
    kind = "error: " if status in (USAGE, ERROR) else "warning: "
    line = next((line for line in err.splitlines() if line.startswith(kind)), "")
    assert all(part in line for part in fault.said), f"{fault.name}: {err}"
    assert "secret" not in out + err


URL_CHARS = string.ascii_letters + string.digits + ":/@[]%?#.+-_ \x00é"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    url=st.one_of(
        st.text(URL_CHARS, max_size=40),
        st.builds(
            lambda s, r: f"{s}://{r}",
            st.sampled_from(["sqlite", "postgresql", "postgres", "mysql", "x"]),
            st.text(URL_CHARS, max_size=30),
        ),
    )
)
def test_any_database_url_is_taken_or_refused_in_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    os.chdir(tmp_path)  # a relative SQLite path lands in the test's directory
    status = main(["runs", "--database", url])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status in (ExitStatus.OK, USAGE, ERROR), err
    if status != ExitStatus.OK:
        assert err.startswith("error: ") and len([x for x in err.splitlines() if x.startswith("error")]) == 1, err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.text(string.printable + "é\x00[]=", max_size=80))
def test_any_config_file_is_read_or_refused_in_one_line(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fuzz.cfg"
    path.write_text(config, encoding="utf-8")
    monkeypatch.setenv("PYINSTALL_CONFIG", str(path))
    status = main(["config"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status in (ExitStatus.OK, USAGE), err
    if status == USAGE:
        assert err.startswith("error: ") and str(path) in err, err
