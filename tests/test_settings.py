"""Settings: the command line, then the environment (pyinstall's, then Ansible's), then the first config
file found (Ansible's search order and [defaults] keys), then the default; `pyinstall config` shows which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from installer import settings
from installer.cli import ExitStatus, main
from installer.connection import target_from_vars
from installer.errors import UsageError


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
    defaults = {"user": "from-config", "become": True}
    assert target_from_vars("h", {}, defaults).user == "from-config"
    assert target_from_vars("h", {"ansible_user": "from-inventory"}, defaults).user == "from-inventory"
    assert target_from_vars("h", {"ansible_user": "inv"}, defaults, user="from-option").user == "from-option"
    assert target_from_vars("h", {"ansible_become": False}, defaults).become is False


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
    assert f"forks = 12  ({cfg}:4)" in text and f"inventory = a.ini,b.yml  ({cfg}:3)" in text
    assert "become_user = admin  (env ANSIBLE_BECOME_USER)" in text and "timeout = 10  (default)" in text
    assert main(["config", "--json"]) == ExitStatus.OK
    dumped = json.loads(capsys.readouterr().out)["settings"]
    assert dumped["retry_files_enabled"] == {"value": False, "source": f"{cfg}:5"}


def test_a_run_takes_its_inventory_and_settings_from_the_config_file(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyinstall.cfg").write_text(f"[defaults]\ninventory = {unreachable}\nretry_files_enabled = no\n")
    assert main(["provision", "--json"]) == ExitStatus.UNREACHABLE
    assert json.loads(capsys.readouterr().out)["hosts"]["web1"]["status"] == "unreachable"
    assert not (tmp_path / "pyinstall.retry").exists(), "retry_files_enabled = no"
    assert main(["check", "--list-hosts"]) == ExitStatus.OK
    assert capsys.readouterr().out == "  hosts (1):\n    web1\n"
