"""The controller's files as a boundary (installer/localfiles.py), run as root as operators run it: what
another local user leaves in a shared directory must not steer what root reads or writes."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from installer import localfiles
from installer.cli import ExitStatus, main

NOBODY = 65534  # another local user
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


def _owned_by_other(path: Path) -> Path:
    os.lchown(path, NOBODY, NOBODY)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shared_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A world-writable working directory (sticky, as /tmp), with no other config file to be found."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.chdir(shared)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PYINSTALL_CONFIG", raising=False)
    return shared


def test_a_config_file_in_a_world_writable_directory_is_ignored_with_a_warning(
    shared_cwd: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = shared_cwd.parent / "victim.log"
    (shared_cwd / "pyinstall.cfg").write_text(f"[defaults]\nlog_path = {victim}\nhost_key_checking = false\n")
    assert main(["check", str(unreachable)]) == ExitStatus.UNREACHABLE
    err = capsys.readouterr().err
    assert f"{shared_cwd / 'pyinstall.cfg'} ignored: its directory {shared_cwd} is world-writable" in err
    assert not victim.exists(), "the log path it named was not used"
    assert main(["config"]) == ExitStatus.OK
    out = capsys.readouterr()
    assert "config file: none found" in out.out and "host_key_checking = true  (default)" in out.out
    assert "is world-writable" in out.err


def test_a_world_writable_config_file_is_ignored_and_a_safe_one_read(
    shared_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = shared_cwd.parent / "own"
    own.mkdir()
    os.chdir(own)
    config = own / "pyinstall.cfg"
    config.write_text("[defaults]\nforks = 7\n")
    assert main(["config"]) == ExitStatus.OK
    assert f"forks = 7  ({config}:2)" in capsys.readouterr().out
    config.chmod(0o666)
    assert main(["config"]) == ExitStatus.OK
    out = capsys.readouterr()
    assert "forks = 20  (default)" in out.out and "ignored: it is world-writable" in out.err


@as_root
def test_a_config_file_of_another_user_is_ignored(shared_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own = shared_cwd.parent / "own"
    own.mkdir()
    os.chdir(own)
    (own / "pyinstall.cfg").write_text("[defaults]\nforks = 7\n")
    _owned_by_other(own / "pyinstall.cfg")
    assert main(["config"]) == ExitStatus.OK
    out = capsys.readouterr()
    assert "forks = 20  (default)" in out.out and "ignored: it belongs to user nobody, not to you or root" in out.err


@as_root
def test_no_file_is_written_through_another_users_symlink(shared_cwd: Path) -> None:
    target = shared_cwd.parent / "root-owned"
    target.write_text("root's\n")
    target.chmod(0o600)
    link = shared_cwd / "run.log"
    link.symlink_to(target)
    _owned_by_other(link)
    refused = r"run.log is a symbolic link to .*root-owned, of user nobody: not followed"
    for append in (True, False):
        with pytest.raises(localfiles.LocalFileError, match=refused):
            localfiles.open_private(str(link), append=append)
    assert target.read_text() == "root's\n" and _mode(target) == 0o600


def test_a_symlink_of_the_users_own_to_a_file_of_the_users_own_is_followed(tmp_path: Path) -> None:
    target = tmp_path / "real.log"
    (tmp_path / "link.log").symlink_to(target)
    with localfiles.open_private(str(tmp_path / "link.log"), append=True) as f:
        f.write("line\n")
    assert target.read_text() == "line\n" and _mode(target) == 0o600


@as_root
def test_an_existing_file_of_another_user_is_neither_appended_to_nor_replaced(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.json"
    theirs.write_text("theirs\n")
    _owned_by_other(theirs)
    for append in (True, False):
        with pytest.raises(localfiles.LocalFileError, match="belongs to user nobody: pyinstall writes only files"):
            localfiles.open_private(str(theirs), append=append)
    assert theirs.read_text() == "theirs\n"


def test_files_pyinstall_leaves_are_created_0600(
    tmp_path: Path, unreachable: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "umask", os.umask)  # the umask is the user's; created files are 0600 whatever it is
    previous = os.umask(0o002)
    try:
        argv = ["provision", str(unreachable), "--log-file", "run.log", "--junit-xml", "run.xml",
                "--retry-file", "run.retry", "--report-file", "report.json",
                "--database", f"sqlite:///{tmp_path / 'runs.db'}"]  # fmt: skip
        assert main(argv) == ExitStatus.UNREACHABLE
    finally:
        os.umask(previous)
    for name in ("run.log", "run.xml", "run.retry", "report.json", "runs.db"):
        assert _mode(tmp_path / name) == 0o600, name


def test_a_log_through_a_fifo_with_no_reader_or_a_directory_is_a_warning(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for path, why in (("fifo", "a FIFO with no reader"), ("dir", "Is a directory"), ("/dev/full", "No space left")):
        assert main(["check", str(unreachable), "--log-file", path]) == ExitStatus.UNREACHABLE, path
        err = capsys.readouterr().err
        assert "warning: no log:" in err and why in err and path in err, err


def test_a_database_that_is_a_symlink_or_holds_another_programs_tables_is_refused(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "cookies.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE cookies (name TEXT)")
    (tmp_path / "link.sqlite").symlink_to(other)
    for url, why in ((f"sqlite:///{other}", "holds tables pyinstall did not create (cookies): not extended"),
                     (f"sqlite:///{tmp_path / 'link.sqlite'}", "link.sqlite is a symbolic link to")):  # fmt: skip
        assert main(["runs", "--database", url]) == ExitStatus.ERROR
        assert why in capsys.readouterr().err
        monkeypatch.setenv("PYINSTALL_DATABASE", url)
        assert main(["check", str(unreachable)]) == ExitStatus.UNREACHABLE, "the run goes on, not kept"
        assert f"the run is not kept in sqlite:///{tmp_path}" in capsys.readouterr().err
    with sqlite3.connect(other) as db:
        assert [t for (t,) in db.execute("SELECT name FROM sqlite_master")] == ["cookies"]


def test_a_password_file_others_may_read_is_warned_about(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "become.pass"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    assert main(["check", str(unreachable), "--become-password-file", str(secret)]) == ExitStatus.UNREACHABLE
    assert f"warning: {secret} is readable by others (mode 0644): chmod 600 {secret}" in capsys.readouterr().err
    secret.chmod(0o600)
    assert main(["check", str(unreachable), "--become-password-file", str(secret)]) == ExitStatus.UNREACHABLE
    assert "readable by others" not in capsys.readouterr().err


def test_private_keys_follow_openssh_rule_before_any_host_is_contacted(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o644)
    assert main(["check", str(unreachable), "--private-key", str(key)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"private key {key} is open to others (mode 0644)" in err and "host web1: private_key_file from" in err
    missing = tmp_path / "no-such-key"
    unreachable.write_text(f"web1 ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file={missing}\n")
    assert main(["check", str(unreachable)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"private key {missing}: No such file or directory" in err
    assert f"ansible_ssh_private_key_file at {unreachable}:1" in err


@as_root
def test_a_key_of_another_owner_mounted_for_a_group_stays_usable(tmp_path: Path) -> None:
    key = tmp_path / "ssh-privatekey"  # a Kubernetes secret with fsGroup: root's, 0440, the group may read
    key.write_text("key\n")
    key.chmod(0o440)
    os.chown(key, NOBODY, NOBODY)
    assert localfiles.key_problem(str(key)) is None
    os.chown(key, os.getuid(), 0)
    assert "open to others (mode 0440)" in (localfiles.key_problem(str(key)) or "")


def test_a_binary_file_follows_the_same_rules(tmp_path: Path) -> None:
    """An offline bundle (bundle create -o) is written through the same gate, as bytes."""
    with localfiles.open_private(str(tmp_path / "el7.bundle"), binary=True) as f:
        f.write(b"\x00tar")
    assert (tmp_path / "el7.bundle").read_bytes() == b"\x00tar" and _mode(tmp_path / "el7.bundle") == 0o600
    (tmp_path / "dir").mkdir()
    with pytest.raises(localfiles.LocalFileError, match="Is a directory"):
        localfiles.open_private(str(tmp_path / "dir"), binary=True)
