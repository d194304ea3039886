"""Run records of real runs: check, provision and info on lab hosts, kept in SQLite and in PostgreSQL,
each shown again as it was printed, with no secret in either database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import postgres
from tests.lab.testing import Fleet, daemon_json_edited, pyinstall

pytestmark = pytest.mark.lab

CANARY = "canary-kept-2b7e90"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_check_provision_and_info_are_kept_and_shown_as_printed(
    backend: str, make_fleet, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet: Fleet = make_fleet({"sqlite": "kept", "postgresql": "keptpg"}[backend], "el7+tmpfs:1")  # a fresh host each
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text() + f"ansible_become_password={CANARY}\n")
    sqlite = tmp_path / "state" / "pyinstall" / "runs.sqlite"  # the default: XDG_STATE_HOME is the test's
    if backend == "postgresql":
        database = postgres.database(request.getfixturevalue("postgresql"), "lab")
        monkeypatch.setenv("PYINSTALL_DATABASE", database)
    printed = {}
    for command in ("check", "provision --check", "provision", "info"):
        proc = pyinstall(*command.split(), "-i", str(inventory), home=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "warning" not in proc.stderr, proc.stderr
        printed[command] = proc.stdout
    assert "would change" in printed["provision --check"] and "changed" not in printed["provision --check"]
    kept = json.loads(pyinstall("runs", "--json", home=tmp_path).stdout)
    assert [(r["command"], r["check_mode"], r["exit_status"]) for r in kept] == [
        ("info", False, 0), ("provision", False, 0), ("provision", True, 0), ("check", False, 0)
    ]  # fmt: skip
    assert kept[2]["hosts"] == {"would change": 1} and kept[1]["hosts"] == {"changed": 1}
    for r, command in zip(kept, ("info", "provision", "provision --check", "check"), strict=True):
        shown = pyinstall("runs", "show", str(r["id"]), home=tmp_path).stdout.strip()
        assert shown and shown in printed[command], command
    host = fleet.hosts[0].name
    history = json.loads(pyinstall("runs", "host", host, "--json", home=tmp_path).stdout)
    assert [h["command"] for h in history] == ["info", "provision", "provision", "check"]
    assert history[0]["storage_driver"] == "overlay2" and history[0]["version"]
    assert history[2]["would_change"] == history[1]["changed"] != [] and not history[2]["changed"]
    # Each step's time is kept (a step sent alone is timed here, one of several by the host's clock).
    steps = json.loads(pyinstall("runs", "show", str(kept[1]["id"]), "--json", home=tmp_path).stdout)
    assert steps["run"]["argv"].startswith("provision") and steps["run"]["status"] == "ok"
    timed = [t["seconds"] for t in steps["hosts"][host]["tasks"]]
    assert all(isinstance(t, float) and 0 <= t < 600 for t in timed), timed
    assert max(timed) > 1, "installing the packages takes more than a second"
    # A hand edit, then info: `runs diff` names the drift that appeared since the provision.
    with daemon_json_edited(fleet.testinfra(fleet.hosts[0]), drop="userland-proxy", add={"debug": True}):
        assert pyinstall("info", "-i", str(inventory), home=tmp_path).returncode == 2
    latest = json.loads(pyinstall("runs", "--limit", "1", "--json", home=tmp_path).stdout)[0]["id"]
    diff = json.loads(pyinstall("runs", "diff", str(kept[1]["id"]), str(latest), "--json", home=tmp_path).stdout)
    drift = {(c["change"], c["key"], c["found"]) for c in diff["changed"][host] if c["what"] == "drift"}
    assert ("appeared", "debug", "true") in drift and ("appeared", "userland-proxy", None) in drift, diff
    text = pyinstall("runs", "diff", str(kept[1]["id"]), str(latest), home=tmp_path).stdout
    assert "drift appeared: /etc/docker/daemon.json: debug" in text, text
    stored = postgres.dump(database) if backend == "postgresql" else sqlite.read_text(errors="replace")
    assert host in stored and "overlay2" in stored
    assert CANARY not in stored


INLINE = "canary=inline-vault-71ac"  # a daemon label, vaulted inline (ansible-vault encrypt_string)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_vaulted_values_reach_no_output_report_log_or_record(
    backend: str, make_fleet, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_vault import ANSIBLE_VAULT, RECORDED

    if not Path(ANSIBLE_VAULT).exists():
        pytest.skip("ansible-core (ansible-vault makes the inline value) is not installed: pip install -e '.[test]'")
    fleet: Fleet = make_fleet("kept", "el7+tmpfs:1")
    host = fleet.hosts[0]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text())
    password = tmp_path / "vault.pw"
    password.write_text((RECORDED / "password.txt").read_text())
    password.chmod(0o600)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text((RECORDED / "vars.yml").read_text())  # vaulted whole
    whole = [line.split(": ", 1)[1].strip('[]"') for line in (RECORDED / "vars.plain.yml").read_text().splitlines()
             if ": " in line and "canary" in line]  # fmt: skip
    label = subprocess.run([ANSIBLE_VAULT, "encrypt_string", "--vault-id", f"lab@{password}", INLINE],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / f"{host.name}.yml").write_text(
        "docker_daemon_options:\n  labels:\n    - " + label.rstrip().replace("\n", "\n  ") + "\n    - plain=label\n"
    )
    if backend == "postgresql":
        monkeypatch.setenv("PYINSTALL_DATABASE", postgres.database(request.getfixturevalue("postgresql"), "vault"))
    files = {name: tmp_path / name for name in ("log", "junit.xml", "report.json", "info.html")}
    vault = ("--vault-id", f"lab@{password}")
    provision = pyinstall("provision", "-i", str(inventory), *vault, "-vv", "--diff", "--log-file", str(files["log"]),
                          "--junit-xml", str(files["junit.xml"]), "--report-file", str(files["report.json"]),
                          home=tmp_path)  # fmt: skip
    assert provision.returncode == 0, provision.stdout[-3000:] + provision.stderr[-3000:]
    info = pyinstall("info", "-i", str(inventory), *vault, "--html", str(files["info.html"]), "-v", home=tmp_path)
    assert info.returncode == 0, info.stdout[-3000:] + info.stderr[-3000:]
    labels = fleet.testinfra(host).run("docker info --format '{{json .Labels}}'").stdout
    assert INLINE in labels, "the vaulted label was decrypted and is on the daemon"
    kept = json.loads(pyinstall("runs", "--json", home=tmp_path).stdout)
    shown = "".join(pyinstall("runs", "show", str(r["id"]), "--json", home=tmp_path).stdout for r in kept[:2])
    sqlite = tmp_path / "state" / "pyinstall" / "runs.sqlite"
    stored = postgres.dump(os.environ["PYINSTALL_DATABASE"]) if backend == "postgresql" else \
        sqlite.read_text(errors="replace")  # fmt: skip
    outputs = {name: path.read_text(errors="replace") for name, path in files.items()}
    outputs.update(provision=provision.stdout + provision.stderr, info=info.stdout + info.stderr, runs=shown,
                   records=stored)  # fmt: skip
    assert "********" in outputs["provision"], "the label shows, masked"
    for plaintext in (INLINE, *whole):
        leaked = [name for name, text in outputs.items() if plaintext in text]
        assert not leaked, f"{plaintext} in {leaked}"
