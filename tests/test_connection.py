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
