"""Settings: the command line, then the environment (pyinstall's, then Ansible's), then the first config
file found (Ansible's search order and [defaults] keys), then the default; `pyinstall config` shows which."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from installer import settings
from installer.cli import ExitStatus, main
from installer.connection import target_from_vars
from installer.errors import UsageError
from tests.test_inventory import needs_ansible


@pytest.fixture(autouse=True)
def _no_settings_from_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for s in settings.SETTINGS:
        for variable in s.env:
            monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv(settings.CONFIG_ENV, raising=False)


def test_precedence_command_line_environment_config_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyinstall.cfg").write_text("[defaults]\nforks = 7\ntimeout = 3\nremote_user = ops\n")
    monkeypatch.setenv("ANSIBLE_TIMEOUT", "4")
    resolved = settings.resolve({"forks": 9})
    assert (resolved["forks"].value, resolved["forks"].source) == (9, "command line")
    assert (resolved["timeout"].value, resolved["timeout"].source) == (4.0, "env ANSIBLE_TIMEOUT")
    monkeypatch.setenv("PYINSTALL_TIMEOUT", "5")  # pyinstall's own variable before Ansible's
    assert settings.resolve({})["timeout"].value == 5.0
    assert settings.resolve({})["remote_user"].source == f"{tmp_path / 'pyinstall.cfg'}:4"
    assert (settings.resolve({})["become_user"].value, settings.resolve({})["become_user"].source) == (None, "default")


def test_the_search_order_is_ansibles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".pyinstall.cfg").write_text("[defaults]\nforks = 3\n")
    assert settings.config_file() == home / ".pyinstall.cfg"
    (tmp_path / "pyinstall.cfg").write_text("[defaults]\nforks = 4\n")
    assert settings.config_file() == tmp_path / "pyinstall.cfg"  # the working directory's first
    chosen = tmp_path / "elsewhere.cfg"
    chosen.write_text("[defaults]\nforks = 5\n")
    monkeypatch.setenv("PYINSTALL_CONFIG", str(chosen))
    assert settings.resolve({})["forks"].value == 5
    monkeypatch.setenv("PYINSTALL_CONFIG", str(tmp_path / "missing.cfg"))
    with pytest.raises(UsageError, match=r"missing\.cfg: no such file"):
        settings.config_file()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[defaults]\nfroks = 3\n", "pyinstall.cfg:2: unknown setting 'froks'"),
        ("[default]\nforks = 3\n", "pyinstall.cfg:1: unknown section [default]"),
        ("[defaults]\nforks = many\n", "pyinstall.cfg:2: forks:"),
        ("[defaults]\nhost_key_checking = maybe\n", "host_key_checking: 'maybe' is not true or false"),
        ("forks = 3\n", "pyinstall.cfg"),
    ],
)
def test_a_bad_config_file_is_a_usage_error_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyinstall.cfg").write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings.resolve({})


def test_config_values_default_what_the_inventory_leaves_unset(tmp_path: Path) -> None:
    """remote_user from a config file is a default: ansible_user in the inventory wins, an option beats both."""
    (tmp_path / "pyinstall.cfg").write_text("[defaults]\nremote_user = from-config\n[privilege_escalation]\n"
                                            "become = true\n")  # fmt: skip
    defaults, overrides, where = settings.variables(settings.resolve({}))
    assert (defaults, overrides) == ({"ansible_user": "from-config", "ansible_become": True}, {})
    assert where["ansible_user"] == f"{tmp_path / 'pyinstall.cfg'}:2"
    assert target_from_vars("h", {**defaults}).user == "from-config"
    assert target_from_vars("h", {**defaults, "ansible_user": "from-inventory"}).user == "from-inventory"
    _, overrides, _ = settings.variables(settings.resolve({"user": "from-option"}))
    assert target_from_vars("h", {**defaults, "ansible_user": "inv", **overrides}).user == "from-option"
    assert target_from_vars("h", {**defaults, "ansible_become": False}).become is False


def test_pyinstall_config_shows_each_setting_and_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyinstall.cfg").write_text("[defaults]\n# a comment\ninventory = a.ini, b.yml\nforks = 12\n"
                                            "retry_files_enabled = false\n")  # fmt: skip
    monkeypatch.setenv("ANSIBLE_BECOME_USER", "admin")
    assert main(["config"]) == ExitStatus.OK
    text = capsys.readouterr().out
    cfg = tmp_path / "pyinstall.cfg"
    assert f"config file: {cfg} (searched: $PYINSTALL_CONFIG, ./pyinstall.cfg" in text
    assert f"forks = 12  ({cfg}:4)" in text and f"inventory = {tmp_path}/a.ini,{tmp_path}/b.yml  ({cfg}:3)" in text
    assert "become_user = admin  (env ANSIBLE_BECOME_USER)" in text and "timeout = 10  (default)" in text
    assert main(["config", "--json"]) == ExitStatus.OK
    dumped = json.loads(capsys.readouterr().out)["settings"]
    assert dumped["retry_files_enabled"] == {"value": False, "source": f"{cfg}:5", "section": "defaults"}


def test_a_run_takes_its_inventory_and_settings_from_the_config_file(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyinstall.cfg").write_text(f"[defaults]\ninventory = {unreachable}\nretry_files_enabled = no\n")
    assert main(["provision", "--json"]) == ExitStatus.UNREACHABLE
    assert json.loads(capsys.readouterr().out)["hosts"]["web1"]["status"] == "unreachable"
    assert not (tmp_path / "pyinstall.retry").exists(), "retry_files_enabled = no"
    assert main(["check", "--list-hosts"]) == ExitStatus.OK
    assert capsys.readouterr().out == "  hosts (1):\n    web1\n"


ANSIBLE_CFG = """\
[defaults]
forks = 50
remote_user = deploy
remote_port = 2222
timeout = 30
host_key_checking = False
inventory = hosts.ini,other/hosts.yml
private_key_file = keys/deploy
roles_path = ./roles
log_path = logs/ansible.log
retry_files_enabled = False
vault_password_file = vault.pw
gathering = smart

[privilege_escalation]
become = true
become_user = admin
become_method = su
become_ask_pass = false

[ssh_connection]
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s
ssh_common_args = -o ProxyJump=bastion.example.com
retries = 3
pipelining = True

[galaxy]
server = https://galaxy.example.com
"""


def _dumped(cfg: Path) -> dict[str, object]:
    """``ansible-config dump --only-changed``: Ansible's settings, and the ssh plugin's options, by name."""
    from tests.test_inventory import ANSIBLE_INVENTORY

    program = str(Path(ANSIBLE_INVENTORY).parent / "ansible-config")
    out = subprocess.run([program, "dump", "--only-changed", "--format", "json", "-t", "all"], capture_output=True,
                         text=True, check=True, env={**os.environ, "ANSIBLE_CONFIG": str(cfg)}).stdout  # fmt: skip
    found: dict[str, object] = {}
    for entry in json.loads(out):
        if "name" in entry:
            found[entry["name"]] = entry["value"]
        for plugin in entry.get("CONNECTION_PLUGINS", []):
            for option in plugin.get("ssh", []):
                found[option["name"]] = option["value"]
    return found


@needs_ansible
def test_an_ansible_cfg_is_read_as_ansible_config_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(ANSIBLE_CFG)
    monkeypatch.chdir(tmp_path)
    assert settings.config_file() == cfg, "found in the working directory, after pyinstall's own"
    resolved = settings.resolve({})
    dumped = _dumped(cfg)
    compared = []
    for s in settings.SETTINGS:
        if s.ansible in dumped:
            ours = resolved[s.name].value
            theirs = dumped[s.ansible]
            assert ours == theirs or ours == [theirs], (s.name, ours, theirs)
            assert resolved[s.name].source.startswith(f"{cfg}:"), s.name
            compared.append(s.name)
    assert len(compared) >= 15, compared  # every key both read, including the ssh plugin's
    unused = settings.read_config(cfg).unused
    assert any("roles_path" in u for u in unused) and any("[galaxy]" in u for u in unused)
    defaults, _, where = settings.variables(resolved)
    assert defaults["ansible_ssh_common_args"] == "-o ProxyJump=bastion.example.com"
    assert target_from_vars("h", defaults).proxy_jump == "bastion.example.com", "the hop is honoured"
    assert where["ansible_become_method"] == f"{cfg}:18"


def test_the_ansible_cfg_search_and_its_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "team"
    elsewhere.mkdir()
    (elsewhere / "ansible.cfg").write_text("[defaults]\nforks = 8\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(elsewhere))  # a directory: its ansible.cfg
    assert settings.config_file() == elsewhere / "ansible.cfg"
    (tmp_path / "pyinstall.cfg").write_text("[defaults]\nforks = 4\nbecome = yes\n")
    assert settings.config_file() == tmp_path / "pyinstall.cfg", "pyinstall's own first"
    warned: list[str] = []
    resolved = settings.resolve({}, ignored=warned)
    assert resolved["become"].value is True and "become belongs in [privilege_escalation]" in warned[0]
    (tmp_path / "pyinstall.cfg").unlink()
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "missing.cfg"))
    warned = []
    assert settings.config_file(ignored=warned) is None and "passed over" in warned[0]
    (tmp_path / "ansible.cfg").write_text("[privilege_escalation]\nbecome_methd = su\n")
    with pytest.raises(UsageError, match=r"ansible\.cfg:2: unknown setting 'become_methd'"):
        settings.resolve({})
    (tmp_path / "ansible.cfg").write_text("[privilege_escalation]\nbecome_method = su\n")
    tmp_path.chmod(0o777)  # a world-writable directory: its ansible.cfg is passed over, as Ansible does
    try:
        warned = []
        assert settings.config_file(ignored=warned) is None and "world-writable" in warned[-1]
    finally:
        tmp_path.chmod(0o755)
