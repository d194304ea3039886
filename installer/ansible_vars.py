"""Every connection and privilege variable Ansible documents, and what pyinstall does with it: each one is
honoured (read, and acted on), or has no bearing here (it tunes a part of Ansible pyinstall does not
have, said so under -v), and a value pyinstall cannot act on is refused by name — never ignored.

    host vars ─▶ refusals() (asked.py, before any host is contacted)
              ─▶ reach()    (connection.target_from_vars: the address, proxy, become method, ...)

ssh's own options reach pyinstall through ``ansible_ssh_common_args``, ``ansible_ssh_extra_args``,
``ansible_ssh_args`` (and ansible.cfg's ``ssh_args``): the options paramiko can do are honoured, the
ones that only tune OpenSSH's client have no bearing, any other is refused naming it.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Canonical name first: where several name one setting, the first one set wins (Ansible's newer names over
# its older ones). The paramiko_* names count only under ansible_connection=paramiko, as in Ansible.
ALIASES: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host", "ansible_paramiko_host"),
    "port": ("ansible_port", "ansible_ssh_port", "ansible_paramiko_port"),
    "user": ("ansible_user", "ansible_ssh_user", "ansible_paramiko_user"),
    "password": (
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_paramiko_pass",
        "ansible_paramiko_password",
    ),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_paramiko_private_key_file"),
    "key_data": ("ansible_private_key", "ansible_ssh_private_key"),
    "key_passphrase": ("ansible_private_key_passphrase", "ansible_ssh_private_key_passphrase"),
    "timeout": ("ansible_timeout", "ansible_ssh_timeout", "ansible_paramiko_timeout"),
    "host_key_checking": (
        "ansible_host_key_checking",
        "ansible_ssh_host_key_checking",
        "ansible_paramiko_host_key_checking",
    ),
    "proxy_command": ("ansible_paramiko_proxy_command",),
    "retries": ("ansible_ssh_retries",),
    "rsa_sha2": ("ansible_paramiko_use_rsa_sha2_algorithms",),
    "connection": ("ansible_connection",),
    "shell_type": ("ansible_shell_type",),
    "shell": ("ansible_shell_executable",),
    "become": ("ansible_become",),
    "become_method": ("ansible_become_method",),
    "become_user": ("ansible_become_user", "ansible_sudo_user", "ansible_su_user"),
    "become_password": ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass", "ansible_su_pass"),
    "become_exe": ("ansible_become_exe", "ansible_sudo_exe", "ansible_su_exe"),
    "become_flags": ("ansible_become_flags", "ansible_sudo_flags", "ansible_su_flags"),
    "su_prompts": ("ansible_su_prompt_l10n",),
    "sudo_chdir": ("ansible_sudo_chdir",),
    "pkcs11": ("ansible_ssh_pkcs11_provider",),
    "network_os": ("ansible_network_os",),
}
SSH_ARGS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")  # in the order ssh reads them
HONOURED = frozenset(name for names in ALIASES.values() for name in names) | frozenset(SSH_ARGS)

# Tunes a part of Ansible that pyinstall does not have: accepted whatever its value.
NO_BEARING: dict[str, str] = {
    "ansible_pipelining": "pyinstall sends no module files: every command is piped already",
    "ansible_ssh_pipelining": "pyinstall sends no module files: every command is piped already",
    "ansible_module_compression": "pyinstall sends no modules",
    "ansible_python_interpreter": "pyinstall runs no Python on hosts",
    "ansible_control_path": "one paramiko connection per host serves the whole run: no ControlMaster socket",
    "ansible_control_path_dir": "one paramiko connection per host serves the whole run: no ControlMaster socket",
    "ansible_ssh_executable": "pyinstall runs no ssh program: paramiko speaks SSH itself",
    "ansible_scp_executable": "files go over paramiko's SFTP: no scp program",
    "ansible_sftp_executable": "files go over paramiko's SFTP: no sftp program",
    "ansible_scp_extra_args": "files go over paramiko's SFTP: no scp program",
    "ansible_sftp_extra_args": "files go over paramiko's SFTP: no sftp program",
    "ansible_sftp_batch_mode": "files go over paramiko's SFTP: no sftp program",
    "ansible_ssh_transfer_method": "files go over paramiko's SFTP",
    "ansible_ssh_use_tty": "a pty is asked for sudo and su only",
    "ansible_ssh_verbosity": "-vv shows every command and its output; the SSH protocol itself is not logged",
    "ansible_ssh_password_mechanism": "paramiko types the SSH password itself: no sshpass",
    "ansible_sshpass_prompt": "paramiko types the SSH password itself: no sshpass",
    "ansible_connection_user": "used by Ansible's network connections only",
    "ansible_docker_extra_args": "used by Ansible's docker connection only",
}
CONNECTIONS = ("ssh", "paramiko", "paramiko_ssh", "smart")
BECOME_METHODS = ("sudo", "su")
DEFAULT_FLAGS = {"sudo": "-H -S -n", "su": ""}  # Ansible's defaults: what pyinstall does anyway

# ssh -o options: honoured (what pyinstall does with them), or with no bearing on a paramiko connection.
SSH_OPTIONS_HONOURED = ("proxycommand", "proxyjump", "userknownhostsfile", "stricthostkeychecking",
                        "connecttimeout", "connectionattempts", "serveraliveinterval", "compression")  # fmt: skip
SSH_OPTIONS_NO_BEARING = ("controlmaster", "controlpath", "controlpersist", "loglevel", "batchmode",
                          "serveralivecountmax", "checkhostip", "hashknownhosts", "preferredauthentications",
                          "pubkeyauthentication", "kbdinteractiveauthentication", "gssapiauthentication",
                          "identitiesonly", "passwordauthentication", "addkeystoagent", "visualhostkey")  # fmt: skip
SSH_OPTIONS_OTHER_VARIABLE = {"port": "ansible_port", "user": "ansible_user", "hostname": "ansible_host",
                              "identityfile": "ansible_ssh_private_key_file"}  # fmt: skip
_FLAGS_NO_BEARING = ("-q", "-v", "-vv", "-vvv", "-T", "-n", "-x")
_FLAG_HINTS = {"-p": "set ansible_port", "-l": "set ansible_user", "-i": "set ansible_ssh_private_key_file",
               "-F": "put the options in ansible_ssh_common_args, or in ~/.ssh/config"}  # fmt: skip


def first(hostvars: Mapping[str, Any], setting: str) -> tuple[str, Any] | None:
    """The variable that sets ``setting`` for this host, and its value (unset and empty count as unset)."""
    paramiko = str(hostvars.get("ansible_connection", "")).rsplit(".", 1)[-1] in ("paramiko", "paramiko_ssh")
    for name in ALIASES[setting]:
        if name.startswith("ansible_paramiko_") and not paramiko:
            continue
        value = hostvars.get(name)
        if value is not None and value != "":
            return name, value
    return None


def value(hostvars: Mapping[str, Any], setting: str, default: Any = None) -> Any:
    found = first(hostvars, setting)
    return default if found is None else found[1]


@dataclass
class SshArgs:
    """What ssh arguments ask, in pyinstall's terms (ssh takes the first value given for an option)."""

    proxy_command: str | None = None
    proxy_jump: str | None = None
    known_hosts: list[str] = field(default_factory=list)
    strict: str | None = None
    connect_timeout: float | None = None
    attempts: int | None = None
    keepalive: int | None = None
    compression: bool | None = None

    def set(self, attribute: str, value: Any) -> None:
        if getattr(self, attribute) in (None, []):
            setattr(self, attribute, value)


class Refused(ValueError):
    """A value pyinstall cannot act on: the message names it, the hint says what to write."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_ssh_args(text: str, parsed: SshArgs | None = None) -> SshArgs:
    """ssh's command-line options as ansible_ssh_*_args give them, added to ``parsed`` (earlier wins)."""
    parsed = parsed or SshArgs()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise Refused(f"cannot split {text!r}: {exc}", "close the quote") from None
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "-J") or (word.startswith(("-o", "-J")) and len(word) > 2):
            if len(word) > 2:
                argument = word[2:]
            elif i + 1 < len(words):
                i += 1
                argument = words[i]
            else:
                raise Refused(f"{word} needs a value")
            if word.startswith("-J"):
                parsed.set("proxy_jump", argument)
            else:
                _ssh_option(argument, parsed)
        elif word == "-C":
            parsed.set("compression", True)
        elif word in _FLAGS_NO_BEARING:
            pass
        else:
            hint = _FLAG_HINTS.get(word[:2], "pyinstall honours -o options, -J and -C")
            raise Refused(f"ssh option {word!r} is not one pyinstall can act on", hint)
        i += 1
    return parsed


def _ssh_option(argument: str, parsed: SshArgs) -> None:
    key, sep, raw = argument.partition("=")
    if not sep:
        key, _, raw = argument.partition(" ")
    name, raw = key.strip().lower(), raw.strip()
    if name in SSH_OPTIONS_NO_BEARING:
        return
    if name in SSH_OPTIONS_OTHER_VARIABLE:
        raise Refused(f"ssh option {key.strip()} is set by {SSH_OPTIONS_OTHER_VARIABLE[name]} in pyinstall",
                      f"set {SSH_OPTIONS_OTHER_VARIABLE[name]} instead")  # fmt: skip
    if name not in SSH_OPTIONS_HONOURED:
        close = difflib.get_close_matches(name, SSH_OPTIONS_HONOURED + SSH_OPTIONS_NO_BEARING, 1, 0.8)
        raise Refused(f"ssh option {key.strip()!r} is not one pyinstall can act on",
                      f"did you mean {close[0]}?" if close else
                      "pyinstall honours ProxyCommand, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking, "
                      "ConnectTimeout, ConnectionAttempts, ServerAliveInterval and Compression")  # fmt: skip
    if not raw:
        raise Refused(f"ssh option {key.strip()} has no value")
    if name == "proxycommand":
        parsed.set("proxy_command", None if raw.lower() == "none" else raw)
    elif name == "proxyjump":
        parsed.set("proxy_jump", None if raw.lower() == "none" else raw)
    elif name == "userknownhostsfile":
        parsed.known_hosts.extend(p for p in raw.split() if p.lower() != "none")
    elif name == "stricthostkeychecking":
        if raw.lower() not in ("yes", "no", "accept-new", "off", "ask", "true", "false"):
            raise Refused(f"StrictHostKeyChecking={raw} is not yes, accept-new or no")
        parsed.set("strict", raw.lower())
    elif name == "compression":
        parsed.set("compression", _yes_no(raw, "Compression"))
    else:
        number = _number(raw, key.strip())
        attribute = {"connecttimeout": "connect_timeout", "connectionattempts": "attempts",
                     "serveraliveinterval": "keepalive"}[name]  # fmt: skip
        parsed.set(attribute, number)


def _yes_no(raw: str, option: str) -> bool:
    if raw.lower() not in ("yes", "no"):
        raise Refused(f"{option}={raw} is not yes or no")
    return raw.lower() == "yes"


def _number(raw: str, option: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= 3600:
        raise Refused(f"{option}={raw} is not a whole number from 1 to 3600")
    return int(raw)


def ssh_args(hostvars: Mapping[str, Any]) -> SshArgs:
    """What the host's ssh arguments ask: ansible_ssh_args (ansible.cfg's ssh_args by default), then
    ansible_ssh_common_args, then ansible_ssh_extra_args."""
    parsed = SshArgs()
    for text in (hostvars.get(n) for n in SSH_ARGS):
        if text:
            parse_ssh_args(str(text), parsed)
    return parsed


def refusals(hostvars: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    """(variable, message, hint) for each connection or privilege value pyinstall cannot act on."""
    found = first(hostvars, "connection")
    if found and str(found[1]).rsplit(".", 1)[-1] not in CONNECTIONS:
        hint = f"pyinstall connects over SSH ({', '.join(CONNECTIONS)}); run it from where the hosts are reachable"
        yield found[0], f"connection {found[1]!r} is not one pyinstall makes", hint
    method = str(value(hostvars, "become_method", "sudo"))
    if method.rsplit(".", 1)[-1] not in BECOME_METHODS:
        yield "ansible_become_method", f"become method {method!r} is not one pyinstall uses", \
            "use sudo or su"  # fmt: skip
    flags = first(hostvars, "become_flags")
    expected = DEFAULT_FLAGS.get(method.rsplit(".", 1)[-1], "")
    if flags and str(flags[1]).split() != expected.split():
        yield flags[0], f"become flags {flags[1]!r}: pyinstall runs {method} with flags of its own", \
            f"remove it (pyinstall's {method} does what {expected or 'no flags'!r} does)"  # fmt: skip
    shell_type = value(hostvars, "shell_type")
    if shell_type not in (None, "sh"):
        yield "ansible_shell_type", f"shell type {shell_type!r}: pyinstall needs a POSIX shell on the host", \
            "pyinstall's commands are POSIX sh; give hosts whose login shell runs them"  # fmt: skip
    for setting, why in (("sudo_chdir", "EL7's sudo has no --chdir; pyinstall's commands use absolute paths"),
                         ("pkcs11", "paramiko cannot use a PKCS#11 token"),
                         ("network_os", "a network device: pyinstall provisions Linux hosts")):  # fmt: skip
        found = first(hostvars, setting)
        if found:
            yield found[0], f"{found[1]!r}: {why}", f"remove {found[0]} for this host"
    prompts = value(hostvars, "su_prompts")
    if prompts is not None and not (isinstance(prompts, list) and all(isinstance(p, str) for p in prompts)):
        yield "ansible_su_prompt_l10n", "is not a list of prompts", "give a list, e.g. ['Passwort']"
    for name in ("ansible_ssh_retries",):
        retries = hostvars.get(name)
        if retries not in (None, "") and not (str(retries).isascii() and str(retries).isdigit()
                                              and int(str(retries)) <= 10):  # fmt: skip
            yield name, f"{retries!r} is not a whole number from 0 to 10", "give how many times to retry connecting"
    for name in SSH_ARGS:
        if hostvars.get(name):
            try:
                parse_ssh_args(str(hostvars[name]))
            except Refused as exc:
                yield name, exc.message, exc.hint


def no_bearing(hostvars: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The variables set for this host that tune a part of Ansible pyinstall does not have, with why."""
    return [(name, why) for name, why in NO_BEARING.items() if name in hostvars]


# ---------------------------------------------------------------- pyinstall's own namespaces

NAMESPACES = ("docker_", "yum_", "pyinstall_")


def unknown(hostvars: Iterable[str], known: Iterable[str]) -> list[tuple[str, str | None]]:
    """Variables in pyinstall's namespaces that it does not read, each with the nearest name it does."""
    known = sorted(known)
    return [(name, next(iter(difflib.get_close_matches(name, known, 1, 0.8)), None))
            for name in hostvars if name.startswith(NAMESPACES) and name not in known]  # fmt: skip
