"""Every connection and privilege variable ansible-core documents is honoured or has no bearing, and values
pyinstall cannot act on are refused by name. The list comes from ansible-core itself at test time (its
magic variable mapping, and the vars of the ssh, paramiko, sudo and su plugins' documentation)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from installer import ansible_vars, asked
from installer.asked import AskedError
from installer.connection import target_from_vars
from tests.test_inventory import ANSIBLE_INVENTORY, needs_ansible

ANSIBLE_DOC = str(Path(ANSIBLE_INVENTORY).parent / "ansible-doc")


def documented() -> set[str]:
    """The variables ansible-core documents for connecting and becoming."""
    from ansible import constants

    names = {name for names in constants.MAGIC_VARIABLE_MAPPING.values() for name in names}
    for kind, plugins in (("connection", ["ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"]),
                          ("become", ["ansible.builtin.sudo", "ansible.builtin.su"])):  # fmt: skip
        docs = json.loads(subprocess.run([ANSIBLE_DOC, "-t", kind, "-j", *plugins], capture_output=True, text=True,
                                         check=True).stdout)  # fmt: skip
        for doc in docs.values():
            for option in doc["doc"]["options"].values():
                names.update(v["name"] for v in option.get("vars") or ())
    return {n for n in names if n.startswith("ansible_")}


def unhandled(names: Iterable[str], handled: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(handled))


@needs_ansible
def test_every_variable_ansible_documents_is_honoured_or_has_no_bearing() -> None:
    names = documented()
    assert len(names) > 60, "the enumeration found what ansible-core documents"
    handled = ansible_vars.HONOURED | ansible_vars.NO_BEARING.keys()
    assert unhandled(names, handled) == []
    for dropped in sorted(names):  # the check fails as soon as one variable loses its behaviour
        assert unhandled(names, handled - {dropped}) == [dropped]


def parse(hostvars: dict, notes: set[str] | None = None) -> asked.Asked:
    return asked.parse("web1", hostvars, lambda v: "hosts.ini:3", notes=notes)


@pytest.mark.parametrize(
    ("hostvars", "named", "says"),
    [
        ({"ansible_connection": "local"}, "ansible_connection", "connection 'local' is not one pyinstall makes"),
        ({"ansible_connection": "winrm"}, "ansible_connection", "is not one pyinstall makes"),
        ({"ansible_become_method": "doas"}, "ansible_become_method", "become method 'doas'"),
        ({"ansible_become_flags": "-i"}, "ansible_become_flags", "pyinstall runs sudo with flags of its own"),
        ({"ansible_shell_type": "csh"}, "ansible_shell_type", "needs a POSIX shell"),
        ({"ansible_ssh_common_args": "-o ForwardAgent=yes"}, "ansible_ssh_common_args", "'ForwardAgent'"),
        ({"ansible_ssh_extra_args": "-o Port=2222"}, "ansible_ssh_extra_args", "set ansible_port instead"),
        ({"ansible_ssh_extra_args": "-A"}, "ansible_ssh_extra_args", "ssh option '-A'"),
        ({"ansible_ssh_common_args": "-o ProxyCommand='nc %h"}, "ansible_ssh_common_args", "close the quote"),
        ({"ansible_ssh_common_args": "-o ConnectTimeout=soon"}, "ansible_ssh_common_args", "not a whole number"),
        ({"ansible_ssh_common_args": "-o StrictHostKeyCheking=no"}, "ansible_ssh_common_args",
         "did you mean stricthostkeychecking"),
        ({"ansible_ssh_pkcs11_provider": "/usr/lib/opensc.so"}, "ansible_ssh_pkcs11_provider", "PKCS#11"),
        ({"ansible_network_os": "ios"}, "ansible_network_os", "a network device"),
        ({"ansible_timeout": "forever"}, "ansible_timeout", "not a number of seconds"),
        ({"ansible_timeout": 0}, "ansible_timeout", "not a number of seconds"),
        ({"ansible_ssh_retries": 99}, "ansible_ssh_retries", "from 0 to 10"),
        ({"docker_verison": "24.0.9"}, "docker_verison", "did you mean docker_version"),
        ({"yum_mirorr": "http://m/"}, "yum_mirorr", "did you mean yum_mirror"),
    ],
)  # fmt: skip
def test_a_value_pyinstall_cannot_act_on_is_refused_by_name(hostvars: dict, named: str, says: str) -> None:
    with pytest.raises(AskedError) as caught:
        parse(hostvars)
    assert caught.value.variable == named and says in f"{caught.value} {caught.value.hint}"
    assert str(caught.value).startswith(f"hosts.ini:3: {named} (host web1)")


def test_what_pyinstall_honours_reaches_the_connection() -> None:
    hostvars = {
        "ansible_host": "10.0.0.5", "ansible_ssh_host": "ignored", "ansible_port": "2200",
        "ansible_become": "yes", "ansible_become_method": "ansible.builtin.su", "ansible_su_pass": "pw-su",
        "ansible_su_user": "admin", "ansible_timeout": 7, "ansible_ssh_retries": 2,
        "ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p bastion' -o UserKnownHostsFile=/k1 -C",
        "ansible_ssh_extra_args": "-o ProxyCommand=ignored -o ServerAliveInterval=30 -o ControlPersist=60s",
        "ansible_paramiko_host": "only-under-paramiko", "ansible_shell_executable": "/bin/bash",
        "ansible_become_exe": "/usr/bin/su", "ansible_su_prompt_l10n": ["Passwort"],
        "ansible_pipelining": True,
    }  # fmt: skip
    notes: set[str] = set()
    parse(hostvars, notes)
    target = target_from_vars("web1", hostvars)
    assert (target.address, target.port, target.connect_timeout, target.retries) == ("10.0.0.5", 2200, 7.0, 2)
    assert (target.become, target.become_method, target.become_user, target.become_password) == (
        True, "su", "admin", "pw-su")  # fmt: skip
    assert target.proxy_command == "ssh -W %h:%p bastion", "ssh takes the first value given"
    assert target.known_hosts == ("/k1",) and target.compression and target.keepalive == 30
    assert (target.shell, target.become_exe, target.su_prompts) == ("/bin/bash", "/usr/bin/su", ("Passwort",))
    paramiko = target_from_vars("web1", {"ansible_connection": "paramiko", "ansible_paramiko_host": "p1",
                                         "ansible_paramiko_proxy_command": "nc %h %p"})  # fmt: skip
    assert (paramiko.address, paramiko.proxy_command) == ("p1", "nc %h %p")
    jump = target_from_vars("web1", {"ansible_ssh_common_args": "-J admin@bastion:2222,inner"})
    assert jump.proxy_jump == "admin@bastion:2222,inner"
    off = target_from_vars("web1", {"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"})
    assert off.accept_new, "no means accept-new, as host_key_checking=false does"
    assert target_from_vars("web1", {"ansible_host_key_checking": False}).accept_new
    assert target_from_vars("web1", {"ansible_ssh_args": "-o ProxyJump=bastion"}).proxy_jump == "bastion"


def test_another_tool_s_variable_in_pyinstall_s_namespace_is_noted_not_refused() -> None:
    notes: set[str] = set()
    parse({"docker_edition": "ce", "docker_version": "24.0.9"}, notes)
    assert notes == {"hosts.ini:3: docker_edition is not a variable pyinstall reads: it changes nothing"}
    assert ansible_vars.no_bearing({"ansible_pipelining": True}) == [
        ("ansible_pipelining", "pyinstall sends no module files: every command is piped already")
    ]
