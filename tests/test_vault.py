"""Ansible Vault: data made by ansible-vault itself (at test time, and one file recorded) is read as
ansible-inventory reads it; a wrong or missing password names file, line and vault id, never the
ciphertext nor the plaintext."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from installer import events, inventory, vault
from installer.cli import main
from installer.errors import InventoryError, UsageError
from tests.test_inventory import ANSIBLE_INVENTORY, needs_ansible

ANSIBLE_VAULT = str(Path(ANSIBLE_INVENTORY).parent / "ansible-vault")
RECORDED = Path(__file__).parent / "vault"  # made by: ansible-vault encrypt --vault-id lab@password.txt
BECOME, LABELLED, WHOLE = "s3cret-become-1f", "label-two-6c", "whole-secret-9a"


def ansible_vault(*args: str, cwd: Path) -> str:
    return subprocess.run([ANSIBLE_VAULT, *args], capture_output=True, text=True, check=True, cwd=cwd).stdout


@pytest.fixture
def vaulted(tmp_path: Path) -> Path:
    """An inventory with a 1.1 value (default id), a 1.2 value (id 'two'), a whole vaulted host_vars file
    (id 'two') and an !unsafe value, all made by ansible-vault."""
    if not Path(ANSIBLE_VAULT).exists():
        pytest.skip("ansible-core (the oracle) is not installed: pip install -e '.[test]'")
    (tmp_path / "one.pw").write_text("pw-one")
    (tmp_path / "two.pw").write_text("pw-two\n")
    for pw in ("one.pw", "two.pw"):
        (tmp_path / pw).chmod(0o600)
    (tmp_path / "hosts.ini").write_text("[web]\nweb1\nweb2\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    one = ansible_vault("encrypt_string", "--vault-password-file", "one.pw", BECOME, "--name",
                        "ansible_become_password", cwd=tmp_path)  # fmt: skip
    two = ansible_vault("encrypt_string", "--vault-id", "two@two.pw", LABELLED, "--name", "labelled", cwd=tmp_path)
    (tmp_path / "group_vars" / "web.yml").write_text(f"{one}plain: 1\nraw: !unsafe '{{{{ kept }}}}'\n{two}")
    whole = tmp_path / "host_vars" / "web1.yml"
    whole.write_text(f"whole_file_var: {WHOLE}\nport_num: 2222\n")
    ansible_vault("encrypt", "--vault-id", "two@two.pw", str(whole), cwd=tmp_path)
    return tmp_path


def both(base: Path) -> vault.Vault:
    return vault.load_secrets(vault.identities(vault_ids=[f"two@{base / 'two.pw'}", f"{base / 'one.pw'}"]))


@needs_ansible
def test_inline_and_whole_file_values_read_as_ansible_inventory_reads_them(vaulted: Path) -> None:
    expected = json.loads(
        subprocess.run(
            [
                ANSIBLE_INVENTORY,
                "-i",
                str(vaulted / "hosts.ini"),
                "--list",
                "--vault-id",
                f"default@{vaulted / 'one.pw'}",
                "--vault-id",
                f"two@{vaulted / 'two.pw'}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    expected["_meta"].pop("profile", None)
    inv = inventory.load(vaulted / "hosts.ini", vault=both(vaulted))
    listed = inv.to_ansible_list()
    assert listed == expected
    assert "__ansible_vault" in json.dumps(listed) and BECOME not in json.dumps(listed)
    web1 = inv.host("web1").vars
    assert (web1["ansible_become_password"], web1["labelled"], web1["whole_file_var"]) == (BECOME, LABELLED, WHOLE)
    assert web1["raw"] == "{{ kept }}" and isinstance(web1["raw"], vault.Unsafe)
    assert events.clean(f"x {BECOME} {LABELLED} {WHOLE}") == "x ******** ******** ********", "secrets from now on"


@needs_ansible
def test_a_wrong_or_missing_password_names_file_line_and_vault_id(vaulted: Path) -> None:
    ciphertext = (vaulted / "host_vars" / "web1.yml").read_text().splitlines()[1]
    only_one = vault.load_secrets([vault.Identity("default", str(vaulted / "one.pw"), "-J")])
    with pytest.raises(InventoryError) as whole:
        inventory.load(vaulted / "hosts.ini", vault=only_one)
    message = str(whole.value)
    assert f"{vaulted / 'host_vars' / 'web1.yml'}:" in message and "vault id: 'two'" in message
    only_two = vault.load_secrets([vault.Identity("two", str(vaulted / "two.pw"), "-J")])
    inv = inventory.load(vaulted / "hosts.ini", vault=only_two)
    with pytest.raises(InventoryError) as inline:
        inv.host("web2")
    message = str(inline.value)
    assert f"{vaulted / 'group_vars' / 'web.yml'}:1:" in message and "vault id: 'default'" in message
    for text in (str(whole.value), str(inline.value)):
        assert ciphertext not in text and BECOME not in text and WHOLE not in text and "pw-" not in text
    with pytest.raises(InventoryError, match="no vault password was given"):
        inventory.load(vaulted / "hosts.ini")


@needs_ansible
def test_the_command_line_reads_every_source_of_vault_passwords(
    vaulted: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = str(vaulted / "hosts.ini")
    two = f"two@{vaulted / 'two.pw'}"
    assert main(["inventory", "-i", hosts, "--list"]) == 5
    assert "no vault password was given" in capsys.readouterr().err
    assert main(["inventory", "-i", hosts, "--list", "--vault-id", two]) == 0  # --list opens whole files only
    capsys.readouterr()
    assert main(["check", "-i", hosts, "--vault-id", two, "--list-hosts"]) == 0  # no host's variable is read
    capsys.readouterr()
    script = vaulted / "pass.sh"  # an executable prints the password, as Ansible runs it
    script.write_text("#!/bin/sh\necho pw-one\n")
    script.chmod(0o700)
    client = vaulted / "keyring-client.sh"  # a -client script is asked for a vault id
    client.write_text('#!/bin/sh\n[ "$1" = --vault-id ] && [ "$2" = two ] && echo pw-two\n')
    client.chmod(0o700)
    assert main(["facts", "-i", hosts, "--vault-password-file", str(script), "--vault-id", f"two@{client}",
                 "--list-hosts"]) == 0  # fmt: skip
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(script))
    monkeypatch.setenv("ANSIBLE_VAULT_IDENTITY_LIST", two)
    inv_args = ["inventory", "-i", hosts, "--list"]
    assert main(inv_args) == 0
    capsys.readouterr()
    config = vaulted / "pyinstall.cfg"
    config.write_text(f"[defaults]\nvault_password_file = {script}\nvault_identity_list = two@{client}\n")
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE")
    monkeypatch.delenv("ANSIBLE_VAULT_IDENTITY_LIST")
    monkeypatch.setenv("PYINSTALL_CONFIG", str(config))
    assert main(inv_args) == 0
    monkeypatch.delenv("PYINSTALL_CONFIG")
    broken = vaulted / "broken.sh"
    broken.write_text("#!/bin/sh\necho nope >&2\nexit 3\n")
    broken.chmod(0o700)
    assert main([*inv_args, "--vault-password-file", str(broken)]) == 5
    assert "exited 3: nope" in capsys.readouterr().err


def test_a_recorded_vault_file_opens_without_ansible(tmp_path: Path) -> None:
    """Recorded from ansible-vault 2.19 (format 1.2, vault id 'lab'): decryption needs no ansible-core."""
    password = tmp_path / "pw"
    password.write_text((RECORDED / "password.txt").read_text())
    secrets = vault.load_secrets([vault.Identity("lab", str(password), "--vault-id")])
    text = secrets.decrypt((RECORDED / "vars.yml").read_text(), "vars.yml")
    assert text == (RECORDED / "vars.plain.yml").read_text()
    wrong = vault.Vault([("lab", b"not-it")])
    with pytest.raises(InventoryError, match="no vault password given opens it"):
        wrong.decrypt((RECORDED / "vars.yml").read_text(), "vars.yml")
    header, body = (RECORDED / "vars.yml").read_text().split("\n", 1)
    damaged = header + "\n" + body.replace("6", "z", 3)
    with pytest.raises(InventoryError, match="damaged"):
        secrets.decrypt(damaged, "vars.yml")


def test_vault_ids_and_unsafe_values_parse() -> None:
    assert vault.parse_identity("prod@~/.vault") == vault.Identity("prod", "~/.vault", "--vault-id")
    assert vault.parse_identity("pw.txt").label == "default"
    for bad in ("@file", "", "prod@"):
        with pytest.raises(UsageError, match="--vault-id"):
            vault.parse_identity(bad)
    asked = vault.identities(["a@x"], ["b@prompt", "a@x"], ["f"], ask=True)
    assert [(i.label, i.source, i.given_by) for i in asked] == [
        ("a", "x", "vault_identity_list"), ("b", "prompt", "--vault-id"), ("default", "f", "--vault-password-file"),
        ("default", "prompt", "--ask-vault-pass")]  # fmt: skip
    with pytest.raises(UsageError, match="--ask-vault-pass: a vault password is to be asked and there is no terminal"):
        vault.load_secrets(vault.identities(ask=True), prompt=None)
    inv = inventory.parse_yaml("all:\n  hosts:\n    h1:\n      label: !unsafe '{{ 7*7 }}'\n")
    assert inv.to_ansible_list()["_meta"]["hostvars"]["h1"] == {"label": {"__ansible_unsafe": "{{ 7*7 }}"}}


def test_an_empty_or_unreadable_password_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UsageError, match=r"--vault-password-file .*: the password is empty"):
        vault.load_secrets(vault.identities(password_files=[str(empty)]))
    with pytest.raises(UsageError, match=r"--vault-id .*missing: No such file"):
        vault.load_secrets(vault.identities(vault_ids=[f"x@{tmp_path / 'missing'}"]))


@needs_ansible
def test_a_vaulted_inventory_file_is_read_and_its_values_are_secrets(vaulted: Path) -> None:
    hosts = vaulted / "secret-hosts.ini"
    hosts.write_text("[db]\ndb1 ansible_host=10.9.8.7 db_token=token-in-a-vaulted-inventory-3e\n")
    ansible_vault("encrypt", "--vault-password-file", "one.pw", str(hosts), cwd=vaulted)
    assert vault.is_vaulted(hosts.read_bytes())
    inv = inventory.load(hosts, vault=both(vaulted))
    assert inv.group_hosts("db") == ["db1"] and inv.host("db1").vars["ansible_host"] == "10.9.8.7"
    assert events.clean("token-in-a-vaulted-inventory-3e on db1") == "******** on db1", "values masked, names not"
    with pytest.raises(InventoryError, match="no vault password was given"):
        inventory.load(hosts)
