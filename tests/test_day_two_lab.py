"""Day two on real lab hosts (installer/daytwo.py): an EL7 and an EL6 host behind the lab's proxy pull from its
private registry, trusting the registry's own CA, as a member of the docker group, with the kernel settings
Docker's networking needs; a re-run changes nothing; verify and info see each; a setting taken out of the
inventory goes from the host, and `remove` takes the rest. The proxy's URL carries a password, which no
output, log, run record or `systemctl show` may show."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from installer import daytwo, probe
from tests.lab import services
from tests.lab.services import LOGIN, REGISTRY
from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(services.available() is not None, reason=f"missing: {services.available()} (setup.sh deps)"),
]

PASSWORD = "s3cret-proxy-pw"
SECRETS = (PASSWORD, LOGIN[1], base64.b64encode(f"{LOGIN[0]}:{LOGIN[1]}".encode()).decode())
PROXY = f"http://lab:{PASSWORD}@127.0.0.1:3128"  # the lab's proxy asks for no password: dockerd sends it anyway
IMAGE = f"{REGISTRY}/probe:day2"
SETTINGS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    fleet = make_fleet("d2", "el7+tmpfs:1,el6:1")
    for host in fleet.hosts:
        fleet.testinfra(host).run_test("for u in alice bob; do id -u $u >/dev/null 2>&1 || useradd $u; done")
    return fleet


@pytest.fixture(scope="module")
def served(fleet: Fleet):
    with services.serving(fleet.lab.repo) as svc:
        yield svc


def inventory(fleet: Fleet, top: Path, ca: Path, **day_two: object) -> Path:
    """The fleet's inventory with day two's variables in group_vars/all.yml beside it."""
    top.mkdir(parents=True, exist_ok=True)
    (top / "group_vars").mkdir(exist_ok=True)
    shutil.copy(fleet.inventory, top / "hosts.ini")
    variables = {
        "docker_proxy": {"https": PROXY, "no_proxy": ["localhost", "127.0.0.1"]},
        "docker_registries": {REGISTRY: {"ca_cert": str(ca)}},
        "docker_registry_auth": {REGISTRY: {"username": LOGIN[0], "password": LOGIN[1]}},
        "docker_users": ["alice"],
        **day_two,
    }
    (top / "group_vars" / "all.yml").write_text(yaml.safe_dump({k: v for k, v in variables.items() if v is not None}))
    return top / "hosts.ini"


def secrets_kept(home: Path, *outputs: str) -> None:
    """The passwords are in nothing pyinstall printed, logged or recorded."""
    for secret in SECRETS:
        for text in outputs:
            assert secret not in text
        for path in home.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), f"{path} holds a password"
        for db in home.rglob("*.db"):
            assert secret not in "\n".join(sqlite3.connect(db).iterdump()), f"{db} holds a password"


def test_a_host_behind_the_proxy_pulls_from_the_private_registry_as_a_docker_user(
    fleet: Fleet, served: services.Services, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    inv = inventory(fleet, tmp_path / "inv", served.ca)
    checked = pyinstall("provision", "-i", str(inv), "--check", "--diff", home=home)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "would change" in checked.stdout and "  changed " not in checked.stdout, checked.stdout[-3000:]
    proc = pyinstall("provision", "-i", str(inv), "-v", home=home)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for step in ("write daemon proxy environment", "write registry certificate", "add alice to the docker group",
                 "set the kernel settings Docker needs"):  # fmt: skip
        assert proc.stdout.count(f"changed  {step}") == 2, (step, proc.stdout[-3000:])
    encoded = base64.b64encode(probe.PROBE.read_bytes()).decode()
    for host in fleet.hosts:
        root = fleet.testinfra(host)
        # As root, with the login provision wrote: pushed through the proxy, trusting the registry's CA, and
        # pulled back.
        root.run_test(f"printf %s {encoded} | base64 -d | docker import - {IMAGE} >/dev/null")
        root.run_test(f"docker push {IMAGE} >/dev/null && docker rmi {IMAGE} >/dev/null")
        root.run_test(f"docker pull {IMAGE} >/dev/null")
        # alice, a member of the docker group, runs it; her own client has no login (README says so).
        assert root.check_output(f"su alice -c 'docker run --rm --net=none {IMAGE} /echo pulled'") == "pulled"
        anonymous = root.run(f"su alice -c 'docker pull {IMAGE}'")
        assert anonymous.rc != 0 and "no basic auth credentials" in anonymous.stderr, anonymous.stderr
        root.run_test(f"docker rmi {IMAGE} >/dev/null")
        assert root.file(daytwo.AUTH_FILE).mode == 0o600
        for key in SETTINGS:
            assert root.check_output(f"cat /proc/sys/{key.replace('.', '/')}") == "1", key
        assert root.file(daytwo.PROXY_ENVIRONMENT).mode == 0o600
        if host.family != "el6":
            shown = root.run("su bob -c 'systemctl show docker'")
            assert PASSWORD not in shown.stdout + shown.stderr, "systemctl show gives the password to any user"
    assert any(line.startswith(f"CONNECT {REGISTRY}") for line in served.connects()), served.connects()

    rc, again = pyinstall_json("provision", "-i", str(inv), home=home)
    assert rc == 0 and all(h["changed"] == 0 for h in again.values()), again

    rc, verified = pyinstall_json("verify", "-i", str(inv), home=home)
    ran = {n: {t["name"].rsplit("::", 1)[-1]: t["outcome"] for t in h["tests"]} for n, h in verified.items()}
    assert rc == 0, ran
    for outcomes in ran.values():
        for test in ("test_the_daemon_runs_with_the_proxy_asked", "test_the_registry_certificates_are_as_provision_"
                     "writes_them", "test_the_docker_users_are_members_of_the_docker_group",
                     "test_the_kernel_settings_are_set_now_and_at_boot"):  # fmt: skip
            assert outcomes.get(test) == "passed", outcomes

    el7 = fleet["el7-tmpfs-01"]
    root = fleet.testinfra(el7)
    root.run_test("sysctl -w net.ipv4.ip_forward=0 >/dev/null && gpasswd -d alice docker >/dev/null")
    drifted = pyinstall("info", "--json", "-i", str(inv), home=home)
    assert drifted.returncode == 2, drifted.stdout[-3000:]
    drift = [(d["host"], d["where"], d["key"]) for d in json.loads(drifted.stdout)["drift"]]
    assert drift == [(el7.name, "kernel", "net.ipv4.ip_forward"), (el7.name, "docker group", "alice")], drift
    rc, mended = pyinstall_json("provision", "-i", str(inv), "--tags", "sysctl,users", home=home)
    assert rc == 0 and mended[el7.name]["changed"] == 2, mended
    secrets_kept(home, checked.stdout, checked.stderr, proc.stdout, proc.stderr, drifted.stdout)


def test_what_the_inventory_drops_goes_and_remove_takes_the_rest(
    fleet: Fleet, served: services.Services, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    ca = f"{daytwo.CERTS_DIR}/{REGISTRY}/ca.crt"
    fewer = inventory(fleet, tmp_path / "fewer", served.ca, docker_registries=None, docker_users=None,
                      docker_sysctls={"net.bridge.bridge-nf-call-ip6tables": None})  # fmt: skip
    rc, hosts = pyinstall_json("provision", "-i", str(fewer), home=home)
    assert rc == 0, hosts
    for host in fleet.hosts:
        root = fleet.testinfra(host)
        assert not root.file(ca).exists and not root.file(ca.rsplit("/", 1)[0]).exists
        assert "docker" not in root.check_output("id -nG alice").split()
        assert "ip6tables" not in root.file(daytwo.SYSCTL_FILE).content_string
        untrusted = root.run(f"docker pull {IMAGE}")  # the registry's CA was what made it trusted
        assert untrusted.rc != 0 and "certificate" in untrusted.stderr, untrusted.stderr

    # Without the proxy the registry is out of reach: its name resolves nowhere but in the proxy.
    direct = inventory(fleet, tmp_path / "direct", served.ca, docker_proxy=None)
    rc, hosts = pyinstall_json("provision", "-i", str(direct), home=home)
    assert rc == 0, hosts
    for host in fleet.hosts:
        root = fleet.testinfra(host)
        assert not root.file(daytwo.PROXY_ENVIRONMENT).exists
        unreached = root.run(f"docker pull {IMAGE}")
        assert unreached.rc != 0 and REGISTRY.split(":")[0] in unreached.stderr, unreached.stderr
        assert "certificate" not in unreached.stderr, "the CA is back: only the proxy is missing"
    rc, removed = pyinstall_json("remove", "-i", str(direct), home=home)
    assert rc == 0, removed
    for host in fleet.hosts:
        root = fleet.testinfra(host)
        left = [p for p in (daytwo.PROXY_ENVIRONMENT, daytwo.PROXY_DROPIN, daytwo.SYSCTL_FILE, daytwo.MODULES_LOAD,
                            daytwo.MODULES_SCRIPT) if root.file(p).exists]  # fmt: skip
        assert not left, left
        assert root.check_output("ls /etc/docker/certs.d 2>/dev/null | grep -v '^[.]' || true") == ""
