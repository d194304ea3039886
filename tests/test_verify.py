"""`pyinstall verify` without a lab: the probe image it carries, hosts it cannot reach, bad --tests."""

from __future__ import annotations

import gzip
import io
import json
import platform
import subprocess
import tarfile
from pathlib import Path

import pytest

from installer.cli import ExitStatus, main
from installer.probe import PROBE


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the probe is an x86_64 binary")
def test_the_probe_image_is_a_static_echo_and_pause(tmp_path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(PROBE.read_bytes()))) as tar:
        entries = tar.getmembers()
        assert [(e.name, e.mode, e.uid, e.mtime) for e in entries] == [("echo", 0o755, 0, 0), ("pause", 0o755, 0, 0)]
        tar.extractall(tmp_path)
    pause = subprocess.Popen([str(tmp_path / "pause")])
    with pytest.raises(subprocess.TimeoutExpired):
        pause.wait(0.5)  # it waits to be killed
    pause.kill()
    echo = tmp_path / "echo"
    assert b"GLIBC" not in echo.read_bytes() and b"ld-linux" not in echo.read_bytes(), "no C library, no loader"
    ran = subprocess.run([str(echo), "it", "runs"], capture_output=True, text=True)
    assert (ran.returncode, ran.stdout) == (0, "it runs\n")


def test_an_unreachable_host_is_reported_and_exits_4(
    unreachable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "verify.xml"
    assert main(["verify", str(unreachable), "--json", "--junit-xml", str(junit)]) == ExitStatus.UNREACHABLE
    host = json.loads(capsys.readouterr().out)["hosts"]["web1"]
    assert host["status"] == "unreachable" and host["tests"] == [] and "refused" in host["error"]
    assert '<error message="' in junit.read_text()


def test_tests_that_do_not_exist_are_a_usage_error(unreachable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(unreachable), "--tests", "no-such-dir"]) == ExitStatus.USAGE
    assert "--tests: no such file or directory: no-such-dir" in capsys.readouterr().err


def test_a_test_file_that_cannot_be_imported_is_named_before_any_host(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 2 (a failed test), not 4: the unreachable host was never tried."""
    tests = tmp_path / "mine"
    tests.mkdir()
    (tests / "test_fine.py").write_text("def test_ok(host):\n    assert host\n")
    (tests / "test_typo.py").write_text("def test_ok(host):\n    pass\n\n\ndef test_b(:\n    pass\n")
    (tests / "test_missing.py").write_text("import os\nimport nosuchmodule_4b1d\n")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", str(unreachable), "--tests", "mine"]) == ExitStatus.FAILED
    err = capsys.readouterr().err
    assert "2 test file(s) cannot be imported; no host was touched" in err
    assert "mine/test_typo.py:5: SyntaxError" in err, err
    assert "mine/test_missing.py:2: ModuleNotFoundError: No module named 'nosuchmodule_4b1d'" in err, err
    assert "test_fine" not in err and "Traceback" not in err


def test_verify_help_tells_keyword_from_ask_pass(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "--keyword EXPR, pytest's -k: here, as in every pyinstall and Ansible command, -k is --ask-pass" in said
