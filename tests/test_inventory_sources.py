"""Inventory sources Ansible enables by default, ansible-inventory the oracle: scripts (with and without
_meta), host lists, the --list JSON itself, and plugin configurations handed to ansible-inventory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from installer import inventory, inventory_sources, vault
from installer.errors import InventoryError
from tests.test_inventory import ANSIBLE_INVENTORY, PRECEDENCE, needs_ansible

SCRIPT = """#!/usr/bin/env python3
import json, sys
groups = {
    "web": {"hosts": ["web2", "web1"], "vars": {"http_port": 80, "secret": {"__ansible_unsafe": "{{ raw }}"}},
            "children": ["canary"]},
    "canary": ["web1"],
    "db": {"hosts": ["db1"], "children": []},
    "all": {"vars": {"ansible_user": "deploy"}},
}
hostvars = {"web1": {"ansible_host": "10.0.0.1", "rack": 4, "token": {"__ansible_vault": VAULTED}},
            "db1": {"ansible_port": 2222}}
if sys.argv[1] == "--list":
    print(json.dumps({**groups, **({"_meta": {"hostvars": hostvars}} if META else {})}))
elif sys.argv[1] == "--host":
    print(json.dumps(hostvars.get(sys.argv[2], {})))
"""


def ansible_list(*sources: str | Path) -> dict:
    args = [a for s in sources for a in ("-i", str(s))]
    out = subprocess.run([ANSIBLE_INVENTORY, *args, "--list"], capture_output=True, text=True, check=True).stdout
    listed = json.loads(out)
    listed["_meta"].pop("profile", None)
    return listed


def script(tmp_path: Path, meta: bool) -> Path:
    path = tmp_path / ("with_meta.py" if meta else "no_meta.py")
    vaulted = json.dumps((Path(__file__).parent / "vault" / "vars.yml").read_text())
    path.write_text(SCRIPT.replace("META", str(meta)).replace("VAULTED", vaulted))
    path.chmod(0o755)
    return path


@needs_ansible
@pytest.mark.parametrize("meta", [True, False], ids=["_meta", "--host"])
def test_an_inventory_script_reads_as_ansible_reads_it(tmp_path: Path, meta: bool) -> None:
    path = script(tmp_path, meta)
    password = tmp_path / "pw"
    password.write_text((Path(__file__).parent / "vault" / "password.txt").read_text())
    secrets = vault.load_secrets(vault.identities(vault_ids=[f"lab@{password}"]))
    inv = inventory.load(path, vault=secrets)
    assert inv.to_ansible_list() == ansible_list(path)
    web1 = inv.host("web1").vars
    assert web1["secret"] == "{{ raw }}" and inv.group_hosts("all") == ["web2", "web1", "db1"]
    assert web1["token"].startswith("ansible_become_password: canary-vault"), "the vaulted value, decrypted"


@needs_ansible
def test_a_host_list_reads_as_ansible_reads_it() -> None:
    source = "web1,db1:2222,[fe80::1]:2200,10.0.0.7,web1,"
    inv = inventory.load(source)
    assert inv.to_ansible_list() == ansible_list(source)
    assert inv.host("db1").vars["ansible_port"] == 2222


@needs_ansible
def test_the_list_json_reads_back_as_the_inventory_it_came_from(tmp_path: Path) -> None:
    for original in (PRECEDENCE, script(tmp_path, True)):
        exported = tmp_path / "export.json"
        exported.write_text(json.dumps(ansible_list(original)))
        inv = inventory.load(exported)
        assert inv.to_ansible_list() == ansible_list(original), original
        assert inv.group_hosts("all") == inventory.load(original).group_hosts("all")


@needs_ansible
def test_plugin_configurations_are_handed_to_ansible_inventory(tmp_path: Path) -> None:
    generator = tmp_path / "fleet.yml"  # ansible-core's own generator plugin: no network, no collection
    generator.write_text(
        "plugin: ansible.builtin.generator\nhosts:\n  name: '{{ role }}-{{ dc }}'\n  parents:\n"
        "    - name: '{{ dc }}'\nlayers:\n  role: [web, db]\n  dc: [eu, us]\n"
    )
    assert inventory.load(generator).to_ansible_list() == ansible_list(generator)
    base = tmp_path / "hosts.ini"
    base.write_text("[web]\nweb1 rack=4\nweb2 rack=7\n")
    constructed = tmp_path / "groups.constructed.yml"  # builds groups from the hosts given before it
    constructed.write_text("plugin: ansible.builtin.constructed\ngroups:\n  rack_four: rack == 4\n")
    inv = inventory.load(base, constructed)
    assert inv.group_hosts("rack_four") == ["web1"]
    assert inv.to_ansible_list() == ansible_list(base, constructed)


def test_a_plugin_without_ansible_core_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "aws_ec2.yml"
    config.write_text("plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    monkeypatch.setattr(inventory_sources, "ansible_inventory", lambda: None)
    with pytest.raises(InventoryError) as caught:
        inventory.load(config)
    assert "inventory plugin 'amazon.aws.aws_ec2' needs ansible-core" in str(caught.value)
    assert "ansible-inventory -i FILE --list > inventory.json" in caught.value.hint


def test_a_broken_script_or_export_says_what_is_wrong(tmp_path: Path) -> None:
    failing = tmp_path / "failing.sh"
    failing.write_text("#!/bin/sh\necho 'cannot reach the CMDB' >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(InventoryError, match="exited 3\n  cannot reach the CMDB"):
        inventory.load(failing)
    chatty = tmp_path / "chatty.sh"
    chatty.write_text("#!/bin/sh\necho 'Connecting...'\n")
    chatty.chmod(0o755)
    with pytest.raises(InventoryError, match="did not print JSON"):
        inventory.load(chatty)
    executable_ini = tmp_path / "hosts"  # a checkout left it executable: no #!, so it is an INI file
    executable_ini.write_text("[web]\nweb1\n")
    executable_ini.chmod(0o755)
    assert inventory.load(executable_ini).group_hosts("web") == ["web1"]
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({"_meta": {"hostvars": {"ghost": {"a": 1}}}, "web": ["web1"]}))
    with pytest.raises(InventoryError, match=r"_meta\.hostvars has host 'ghost', which no group lists"):
        inventory.load(orphan)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"_meta": {}, "web": {"hosts": "web1"}}))
    with pytest.raises(InventoryError, match=r"web\.hosts is a string, not a list"):
        inventory.load(wrong)
