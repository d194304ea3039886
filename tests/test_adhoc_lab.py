"""`pyinstall exec` on lab hosts, one of them noisy (its login prints on stdout and stderr, its sshd sends a
banner): each host's own output and exit status, grouped or streamed, in JSON, kept as a run; a password the
inventory holds is in none of it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall

pytestmark = pytest.mark.lab

CANARY = "canary-exec-5d1f3a"
COMMAND = f"echo out $(cat /etc/redhat-release | cut -c1-8); echo err >&2; echo pw={CANARY}; exit 3"


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("adh", "el7:1,el6-noisy:1")


def inventory(fleet: Fleet, tmp_path: Path) -> Path:
    path = tmp_path / "hosts.ini"
    path.write_text(fleet.inventory.read_text() + f"ansible_become_password={CANARY}\n")
    return path


def test_each_hosts_output_and_exit_status_and_no_password(fleet: Fleet, tmp_path: Path) -> None:
    inv = inventory(fleet, tmp_path)
    proc = pyinstall("exec", "-i", str(inv), "--limit", "all", "--json", "--", COMMAND, home=tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    hosts = json.loads(proc.stdout)["hosts"]
    releases = {"el7": "CentOS L", "el6": "CentOS r"}
    for host in fleet.hosts:
        said = hosts[host.name]
        assert (said["status"], said["rc"]) == ("failed", 3), said
        assert said["stdout"] == f"out {releases[host.family]}\npw=********\n", said["stdout"]  # no login noise
        assert said["stderr"] == "err\n", said["stderr"]
    grouped = pyinstall("exec", "-i", str(inv), "--limit", "all", "--", COMMAND, home=tmp_path)
    assert grouped.returncode == 2
    for host in fleet.hosts:
        assert f"{host.name} | failed | rc=3" in grouped.stdout
    streamed = pyinstall("exec", "-i", str(inv), "--limit", fleet.hosts[0].name, "--stream", "--", COMMAND,
                         home=tmp_path)  # fmt: skip
    name = fleet.hosts[0].name
    lines = streamed.stdout.splitlines()
    assert lines[:3] in (
        [f"[{name}] out CentOS L", f"[{name} stderr] err", f"[{name}] pw=********"],
        [f"[{name}] out CentOS L", f"[{name}] pw=********", f"[{name} stderr] err"],
    ), lines
    assert f"{name} | failed | rc=3" in streamed.stdout and "out CentOS L" not in lines, "printed once, as it came"
    assert f"{name}: started" in streamed.stderr, "the progress goes beside the output"
    for text in (proc.stdout, proc.stderr, grouped.stdout, grouped.stderr, streamed.stdout, streamed.stderr):
        assert CANARY not in text
    ok = pyinstall("exec", "-i", str(inv), "--limit", "el7", "--", "uname", "-m", home=tmp_path)  # words, quoted
    assert ok.returncode == 0 and "x86_64" in ok.stdout and "RECAP 1 ok of 1 host(s)" in ok.stdout, ok.stdout

    kept = json.loads(pyinstall("runs", "--json", home=tmp_path).stdout)
    assert [r["command"] for r in kept][:4] == ["exec"] * 4 and kept[0]["exit_status"] == 0
    shown = pyinstall("runs", "show", str(kept[-2]["id"]), home=tmp_path).stdout
    assert f"{fleet.hosts[0].name} | failed | rc=3" in shown
    document = json.loads(pyinstall("runs", "show", str(kept[-1]["id"]), home=tmp_path).stdout)  # --json's, as printed
    assert document["hosts"][fleet.hosts[0].name]["rc"] == 3 and document == json.loads(proc.stdout)
    for db in tmp_path.rglob("*.sqlite"):
        assert CANARY not in "\n".join(sqlite3.connect(db).iterdump())


def test_a_host_not_reached_is_unreachable_and_the_others_still_run(fleet: Fleet, tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text(fleet.inventory.read_text().replace("[el7]", "[el7]\nghost ansible_host=127.0.0.1 ansible_port=1"))
    proc = pyinstall("exec", "-i", str(inv), "--limit", "all", "--json", "--", "true", home=tmp_path)
    assert proc.returncode == 4, proc.stdout[-2000:]
    hosts = json.loads(proc.stdout)["hosts"]
    assert hosts["ghost"]["status"] == "unreachable" and hosts["ghost"]["rc"] is None
    assert all(hosts[h.name]["rc"] == 0 for h in fleet.hosts)
