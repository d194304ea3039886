"""Hosts as real fleets have them: login shells that print banners on stdout and stderr, and a German
locale. pyinstall frames every command's output with a per-session token and tells sudo's refusals by
its own prompt, so neither noise nor language changes what it sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall_json

pytestmark = pytest.mark.lab

NOISE = (
    'printf \'echo "*** Authorised users only: this banner comes from .bashrc ***"\\n'
    'echo "noise on stderr" >&2\\nexport LANG=de_DE.UTF-8\\n\' >> {home}/.bashrc'
)
GERMAN = "localedef -i de_DE -f UTF-8 /usr/lib/locale/de_DE.UTF-8"


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    """An el6 and an el7 host whose root and deploy logins print noise and speak German."""
    fleet = make_fleet("noisy", "el6:1,el7:1")
    for h in fleet.hosts:
        host = fleet.testinfra(h)
        host.run_test(GERMAN)
        host.run_test(
            "id deploy || useradd -m deploy; echo 'deploy:pw-deploy-1' | chpasswd; "
            "printf 'deploy ALL=(ALL) ALL\\n' > /etc/sudoers.d/deploy; chmod 440 /etc/sudoers.d/deploy; "
            "install -d -m 700 -o deploy -g deploy ~deploy/.ssh; "
            "install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys ~deploy/.ssh/authorized_keys"
        )
        host.run_test(NOISE.format(home="/root"))
        host.run_test(NOISE.format(home="/home/deploy"))
    return fleet


def test_sudo_speaks_german_here(fleet: Fleet) -> None:
    """The premise: on these hosts sudo's own words are not English."""
    host = fleet.testinfra(fleet["el7-01"])
    said = host.run("su - deploy -c 'LANG=de_DE.UTF-8 sudo -n true' 2>&1").stdout
    assert "Passwort" in said, said


def test_a_noisy_host_is_provisioned_and_converges(fleet: Fleet, tmp_path: Path) -> None:
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0, hosts
    assert all(h["status"] == "changed" for h in hosts.values())
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
