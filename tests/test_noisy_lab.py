"""Hosts as real fleets have them: login shells that print banners on stdout and stderr, and a German
locale. pyinstall frames every command's output with a per-session token and tells sudo's refusals by
its own prompt, so neither noise nor language changes what it sees."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from installer.connection import OutputTooLarge
from installer.errors import CommandTimeout
from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    """An el6 and an el7 noisy host (the lab's kind: see tests/lab/host.py); a deploy user whose login is
    as noisy as root's."""
    fleet = make_fleet("noisy", "el6-noisy:1,el7-noisy:1")
    for h in fleet.hosts:
        fleet.testinfra(h).run_test(
            "id deploy || useradd -m -s /bin/bash deploy; echo 'deploy:pw-deploy-1' | chpasswd; "
            "printf 'deploy ALL=(ALL) ALL\\n' > /etc/sudoers.d/deploy; chmod 440 /etc/sudoers.d/deploy; "
            "install -d -m 700 -o deploy -g deploy ~deploy/.ssh; "
            "install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys ~deploy/.ssh/authorized_keys; "
            "install -m 644 -o deploy -g deploy /root/.bashrc ~deploy/.bashrc"
        )
    return fleet


def test_sudo_speaks_german_here(fleet: Fleet) -> None:
    """The premise: on these hosts sudo's own words are not English."""
    host = fleet.testinfra(fleet["el7-noisy-01"])
    said = host.run("su - deploy -c 'LANG=de_DE.UTF-8 sudo -n true' 2>&1").stdout
    assert "Passwort" in said, said


def test_become_by_su_where_su_speaks_german(fleet: Fleet, tmp_path: Path) -> None:
    """su has no prompt option and asks in the login's language ("Passwort:" here): pyinstall runs it in
    the C locale, so the password is typed at a prompt it knows, and a wrong one is still told apart."""
    password = "root-pw-su-de"
    for h in fleet.hosts:
        fleet.testinfra(h).run_test("echo 'root:%s' | chpasswd", password)
    said = fleet.testinfra(fleet["el7-noisy-01"]).run("su deploy -c 'su root -c true' < /dev/null 2>&1").stdout
    assert "Passwort" in said, f"the premise: su speaks German to deploy here ({said!r})"
    text = fleet.inventory.read_text().replace(
        "ansible_user=root", "ansible_user=deploy\nansible_become=true\nansible_become_method=su"
    )
    inventory = tmp_path / "su.ini"
    inventory.write_text(text + f"ansible_become_password={password}\n")
    proc = pyinstall("facts", "-i", str(inventory), "--json", "-vv", home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count('"uid": 0') == len(fleet.hosts) and password not in proc.stdout + proc.stderr
    inventory.write_text(text + "ansible_become_password=not-it\n")
    _, hosts = pyinstall_json("facts", "-i", str(inventory), home=tmp_path)
    for h in fleet.hosts:
        assert "su did not run the command as 'root'" in hosts[h.name]["error"], hosts


@pytest.fixture(scope="module")
def provisioned(fleet: Fleet, tmp_path_factory) -> dict:
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path_factory.mktemp("home"))
    assert rc == 0, hosts
    return hosts


def test_a_noisy_host_is_provisioned_and_converges(fleet: Fleet, provisioned: dict, tmp_path: Path) -> None:
    assert all(h["status"] == "changed" for h in provisioned.values())
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0 and all(h["changed"] == 0 and h["commands"] == 1 for h in hosts.values()), hosts


@pytest.mark.parametrize("password, said", [(None, "without a password"), ("wrong-password", "refused")])
def test_sudo_refusing_in_german_is_a_become_error(fleet: Fleet, tmp_path: Path, password: str | None, said: str):
    inventory = tmp_path / "deploy.ini"
    text = fleet.inventory.read_text().replace("ansible_user=root", "ansible_user=deploy\nansible_become=true")
    inventory.write_text(text + (f"ansible_become_password={password}\n" if password else ""))
    rc, hosts = pyinstall_json("check", "-i", str(inventory), home=tmp_path)
    assert rc == 2, hosts
    for h in hosts.values():
        assert [f["code"] for f in h["findings"]] == ["BECOME"], h["findings"]
        assert said in h["findings"][0]["message"]


@pytest.mark.parametrize("become", [False, True], ids=["root", "deploy-sudo-pty"])
def test_each_command_is_framed_apart_from_the_noise(fleet: Fleet, become: bool) -> None:
    """Output, exit status and noise are told apart by the frame, also through sudo's pty; `exit` and EXIT
    traps inside a command do not lose its status."""
    over = {"user": "deploy", "become": True, "become_password": "pw-deploy-1"} if become else {}
    with fleet.session(fleet["el7-noisy-01"], **over) as session:
        plain = session.run("printf 'no newline at the end'")
        assert (plain.rc, plain.stdout) == (0, "no newline at the end"), plain
        failed = session.run("echo out; echo err >&2; exit 3")
        # A pty has one stream: stderr arrives on stdout, in order.
        assert failed.rc == 3 and (failed.stdout, failed.stderr) == (
            ("out\nerr\n", "") if become else ("out\n", "err\n")
        )
        trapped = session.run("trap 'echo cleaned' EXIT; echo working; false")
        assert trapped.rc == 1 and trapped.stdout == "working\ncleaned\n", trapped
        assert session.run("id -un").stdout.strip() == "root"
        assert any("Authorised users only" in n for n in session.noise), session.noise
        assert any("noise on stderr" in n for n in session.noise), session.noise
        assert "pw-deploy-1" not in "".join(session.noise)


def test_a_command_that_never_stops_printing_is_stopped_at_the_cap(fleet: Fleet) -> None:
    with fleet.session(fleet["el6-noisy-01"]) as session:
        with pytest.raises(OutputTooLarge, match="printed more than 32 MB"):
            session.run("yes", timeout=120)
        assert session.run("pgrep -x yes").rc == 1, "the command was not stopped"
        assert session.run("echo still here").stdout == "still here\n", "the session is still usable"


@pytest.mark.parametrize("become", [False, True], ids=["root", "deploy-sudo-pty"])
def test_a_command_that_outlives_its_timeout_is_a_timeout(fleet: Fleet, become: bool) -> None:
    over = {"user": "deploy", "become": True, "become_password": "pw-deploy-1"} if become else {}
    with fleet.session(fleet["el7-noisy-01"], **over) as session:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="did not finish within 1s"):
            session.run("sleep 30", timeout=1)
        assert time.monotonic() - started < 10, "the timeout ended the wait"
        assert session.run("echo still here").stdout == "still here\n", "the session is still usable"


def test_host_noise_shows_under_vv(fleet: Fleet, tmp_path: Path) -> None:
    proc = pyinstall("provision", "-vv", "-i", str(fleet.inventory), home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "host noise" in proc.stdout and "Authorised users only" in proc.stdout, proc.stdout[-3000:]
    quiet = pyinstall("provision", "-v", "-i", str(fleet.inventory), home=tmp_path)
    assert "Authorised users only" not in quiet.stdout


# Rich markup, a clear-screen sequence and an OSC 8 hyperlink, as a compromised or odd host might print them.
HOSTILE = r"[/] [bold]x\033[2J\033]8;;http://example.invalid/\033\\link\033]8;;\033\\"
DOCKER_WRAPPER = f"""#!/bin/sh
if [ "$1" = info ]; then
    /usr/bin/docker.real "$@"; rc=$?
    printf 'WARNING: {HOSTILE}\\n'
    exit $rc
fi
exec /usr/bin/docker.real "$@"
"""


def test_text_a_host_prints_reaches_the_terminal_escaped(fleet: Fleet, provisioned: dict, tmp_path: Path) -> None:
    """The release file and `docker info` carry markup and escape sequences: check and info print them
    visibly escaped, never interpreted, and exit as the hosts' state says."""
    host = fleet.testinfra(fleet["el7-noisy-01"])
    release = host.check_output("cat /etc/redhat-release")
    host.run_test("cp /usr/bin/docker /usr/bin/docker.real")
    try:
        host.run_test(f"printf '%s\\n' {shlex.quote(DOCKER_WRAPPER)} > /usr/bin/docker")
        host.run_test(f"printf '%s {HOSTILE}\\n' {shlex.quote(release)} > /etc/redhat-release")
        assert "\x1b[2J" in host.run("docker info").stdout, "the premise: the host prints the sequences"
        for command in ("check", "info"):
            proc = pyinstall(command, "-i", str(fleet.inventory), home=tmp_path)
            assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
            assert "\x1b" not in proc.stdout + proc.stderr, f"{command}: an escape sequence reached the terminal"
            assert "Traceback" not in proc.stderr
            assert "\\x1b[2J" in proc.stdout and "[/]" in proc.stdout, (command, proc.stdout[-3000:])
    finally:
        host.run_test("mv -f /usr/bin/docker.real /usr/bin/docker")
        host.run_test(f"printf '%s\\n' {shlex.quote(release)} > /etc/redhat-release")


def test_a_run_from_a_read_only_directory_still_reports(
    fleet: Fleet, provisioned: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One host is unreachable, so the run leaves a retry file and a report where it starts, which is
    read-only: a warning naming each, the report printed, the exit status the hosts'."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("gone ansible_host=127.0.0.1 ansible_port=1\n" + fleet.inventory.read_text())
    here = tmp_path / "read-only"
    here.mkdir()
    subprocess.run(["mount", "--bind", str(here), str(here)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(here)], check=True)
        monkeypatch.chdir(here)
        proc = pyinstall("provision", "-i", str(inventory), home=tmp_path)
    finally:
        monkeypatch.chdir(tmp_path)
        subprocess.run(["umount", str(here)], check=True)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "could not write pyinstall.retry: Read-only file system" in proc.stderr, proc.stderr
    assert "could not write pyinstall-report.json: Read-only file system" in proc.stderr, proc.stderr
    assert "RECAP" in proc.stdout and "gone  unreachable" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
