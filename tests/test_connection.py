"""Sessions' messages that need no host: what the operator is told to do about a changed host key."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from installer.connection import Target, _forget_command


def test_the_hint_for_a_changed_key_names_the_known_hosts_file_that_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ours = tmp_path / "lab_known_hosts"
    keys = paramiko.HostKeys()
    keys.add("[10.0.0.5]:2222", "ssh-rsa", paramiko.RSAKey.generate(1024))
    keys.save(str(ours))
    target = Target("web1", "10.0.0.5", 2222, known_hosts=(str(ours),))
    assert _forget_command("[10.0.0.5]:2222", target) == f"ssh-keygen -R '[10.0.0.5]:2222' -f {ours}"
    assert _forget_command("10.0.0.9", target) == "ssh-keygen -R 10.0.0.9"


def test_known_hosts_files_are_parsed_once_and_again_only_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from installer.connection import _KnownHostsFiles

    loads: list[str] = []
    real = paramiko.HostKeys.load
    monkeypatch.setattr(paramiko.HostKeys, "load", lambda self, path: (loads.append(path), real(self, path))[1])
    known = tmp_path / "known_hosts"
    key = paramiko.RSAKey.generate(1024)
    keys = paramiko.HostKeys()
    for i in range(50):
        keys.add(f"10.0.0.{i}", "ssh-rsa", key)
    keys.save(str(known))
    files = _KnownHostsFiles()
    assert all(files.parsed(known).lookup(f"10.0.0.{i}") for i in range(50))
    assert loads == [str(known)], "one parse for fifty lookups"
    with known.open("a") as f:
        f.write(f"10.0.1.1 {key.get_name()} {key.get_base64()}\n")
    assert files.parsed(known).lookup("10.0.1.1") is not None and len(loads) == 2, "changed on disk: read again"


def test_each_connection_has_a_fabric_configuration_of_its_own_on_one_parsed_ssh_config() -> None:
    """fabric modifies a connection's configuration as it is used: shared between threads, a connection
    made meanwhile found it empty (1,000 hosts at forks 100). ~/.ssh/config is still parsed once."""
    from installer.connection import _fabric_config, _ssh_config

    first, second = _fabric_config(), _fabric_config()
    assert first is not second
    assert first.base_ssh_config is second.base_ssh_config is _ssh_config()
