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
