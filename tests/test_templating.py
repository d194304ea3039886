"""Templated inventory variables render as Ansible renders them: `ansible all -c local -m debug` is the
oracle (every variable asked in one run); a lookup, an unknown filter, an undefined name or a loop is
refused naming the file and line."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from installer import inventory
from installer.errors import InventoryError
from tests.test_inventory import ANSIBLE_INVENTORY, needs_ansible

INVENTORY = """\
all:
  vars:
    dc: dc1
    fqdn: "{{ inventory_hostname }}.{{ dc }}.example.com"
    short: "{{ inventory_hostname_short }}"
    seven: "{{ 7*7 }}"
    label: "x={{ 7*7 }}"
    names: "{{ group_names }}"
    web_hosts: "{{ groups['web'] | join(',') }}"
    db_dc: "{{ hostvars['db1.example.com']['dc'] }}"
    chain: "{{ fqdn | upper }}"
    flag: "{{ 'yes' | bool }}"
    choice: "{{ (dc == 'dc2') | ternary('second', 'first') }}"
    merged: "{{ {'a': 1} | combine({'b': dc}) }}"
    encoded: "{{ dc | b64encode }}"
    replaced: "{{ inventory_hostname | regex_replace('[0-9]+', 'N') }}"
    fallback: "{{ not_set | default('none here') }}"
    as_json: "{{ {'dc': dc} | to_json }}"
    in_list: ["{{ dc }}", "static", "{{ 1 + 1 }}"]
    in_dict: {labels: ["site={{ dc }}"], debug: "{{ dc == 'dc2' }}"}
    raw: !unsafe "{{ kept as written }}"
    block: "{% if dc == 'dc2' %}south{% else %}north{% endif %}"
  hosts:
    lone:
  children:
    web:
      hosts:
        web1:
        web2:
    db:
      hosts:
        db1.example.com:
          dc: dc2
"""
NAMES = ["fqdn", "short", "seven", "label", "names", "web_hosts", "db_dc", "chain", "flag", "choice", "merged",
         "encoded", "replaced", "fallback", "as_json", "in_list", "in_dict", "raw", "block"]  # fmt: skip


def ansible_values(path: Path, names: list[str]) -> dict[str, dict]:
    """Every host's value of each variable, as `ansible all -c local -m debug` renders them."""
    program = str(Path(ANSIBLE_INVENTORY).parent / "ansible")
    asked = "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} }}"
    out = subprocess.run([program, "all", "-i", str(path), "-c", "local", "-m", "debug", "-a", f"msg={asked}"],
                         capture_output=True, text=True, check=True, cwd=path.parent,
                         env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "oneline"}).stdout  # fmt: skip
    blocks = re.split(r"^(\S+) \| SUCCESS => ", out, flags=re.M)[1:]
    return {host: json.loads(text)["msg"] for host, text in zip(blocks[::2], blocks[1::2])}


@needs_ansible
def test_templated_variables_render_as_ansible_renders_them(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    expected = ansible_values(path, NAMES)
    inv = inventory.load(path)
    assert set(expected) == set(inv.host_names)
    for host, values in expected.items():
        ours = inv.host(host).vars
        assert {n: ours[n] for n in NAMES} == values, host
    assert inv.host("web1").vars["seven"] == 49 and inv.host("db1.example.com").vars["block"] == "south"
    listed = json.dumps(inv.to_ansible_list())
    assert "{{ inventory_hostname }}.{{ dc }}.example.com" in listed, "--list prints them as written, as Ansible"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{{ lookup('env', 'HOME') }}", "lookup() reads outside the inventory"),
        ("{{ dc | password_hash('sha512') }}", "No filter named 'password_hash'"),
        ("{{ nowhere }}", "'nowhere' is undefined"),
        ("{{ loop_b }}", "a variable refers to itself"),
        ("{{ dc.__class__ }}", "sandbox"),
        ("{{ dc ", "unexpected end of template"),
    ],
)
def test_a_template_pyinstall_cannot_render_names_file_line_and_variable(tmp_path: Path, value: str, says: str) -> None:
    path = tmp_path / "hosts.ini"
    loops = " loop_b='{{ loop_c }}' loop_c='{{ loop_b }}'" if "loop" in value else ""
    path.write_text(f'[web]\nweb1 dc=dc1 wanted="{value}"{loops}\n')
    inv = inventory.load(path)
    with pytest.raises(InventoryError) as caught:
        inv.host("web1")
    message = str(caught.value)
    assert message.startswith(f"{path}:2: ") and "(host web1)" in message and says in message, message


def test_a_vaulted_or_unsafe_value_and_a_plain_one_are_left_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    h1:\n      a: !unsafe '{{ 7*7 }}'\n      b: 'no template'\n      c: 3\n")
    assert inventory.load(path).host("h1").vars == {"a": "{{ 7*7 }}", "b": "no template", "c": 3}
