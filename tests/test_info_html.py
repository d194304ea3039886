"""The HTML fleet report: self-contained, escaped, and really rendered by headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from installer import docker_info, report
from installer.drift import Difference
from installer.info import HostInfo, outliers, summary
from installer.outcome import Status
from installer.validate import Expected, validate

HERE = Path(__file__).parent / "docker_info"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def fleet() -> list[HostInfo]:
    hosts = []
    for name, case in [("db01", "el6-1.7.1-devicemapper"), ("app-a", "el7-1.13.1-loopback-2to1"),
                       ("app-b", "el7-18.09-overlay2"), ("app-c", "el7-18.09-overlay2"),
                       ("<script>alert(1)</script>", "unreachable-20.10")]:  # fmt: skip
        info = docker_info.parse((HERE / f"{case}.txt").read_text())
        findings = validate(info, Expected())
        status = Status.FAILED if any(f.level == "error" for f in findings) else Status.OK
        hosts.append(HostInfo(name, status, findings, info=info, groups=("all", "fleet"), asks=("overlay2", "18.09")))
    hosts[1].drift = [Difference("/etc/docker/daemon.json", "debug", None, "true")]
    hosts.append(HostInfo("bare", Status.NOT_INSTALLED, error="Docker is not installed (no docker command)"))
    return hosts


def page() -> str:
    hosts = fleet()
    return report.info_html(hosts, summary(hosts), outliers(hosts), "2026-01-01 00:00:00 UTC")


def test_the_page_is_self_contained_and_escaped() -> None:
    html = page()
    assert "<script" not in html.replace("&lt;script&gt;", ""), "no script, and host names are escaped"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external asset"
    assert "<link" not in html
    for host in ("db01", "app-a", "app-b", "app-c"):
        assert f'data-host="{host}"' in html
    assert "305.7 MB / 107.4 GB" in html  # devicemapper data space
    assert "devicemapper data space used (%)" in html
    assert "DAEMON_UNREACHABLE" in html and "DEVICEMAPPER_LOOP" in html
    assert "outlier: <b>app-a</b> runs version 1.13.1; most of the 4 hosts asked the same run 18.09.1" in html
    assert "drift: /etc/docker/daemon.json: debug added on the host (true), not asked for" in html
    assert '<td class="not-installed">not installed</td>' in html and "1 not installed" in html


def test_host_text_has_its_control_characters_made_visible_in_every_page() -> None:
    hosts = fleet()
    hosts[-1].error = "no docker\x1b]0;owned\x07 command\x1b[2J"
    html = report.info_html(hosts, summary(hosts), outliers(hosts), "2026-01-01 00:00:00 UTC")
    assert "no docker\\x1b]0;owned\\x07 command\\x1b[2J" in html
    run = {
        "id": 1,
        "started": 0.0,
        "ended": None,
        "command": "check",
        "argv": "check \x1b[31m",
        "version": "0",
        "inventory": "hosts.ini",
        "inventory_sha256": "",
        "controller": "c",
        "username": "u\x07",
        "exit_status": None,
        "report": "web1: \x1b[2J",
        "report_json": {},
        "rollout": None,
        "shard": None,
    }
    page = report.run_html(run)
    assert "\x1b" not in page and "\x07" not in page
    assert "\\x1b[2J" in page and "u\\x07" in page


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and how many distinct pixel rows a PNG has (a blank page has one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            chunks += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(chunks)
    stride = len(raw) // height
    rows = {raw[i * stride + 1 : (i + 1) * stride] for i in range(height)}  # each row minus its filter byte
    return width, height, len(rows)


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (bash setup.sh deps installs it)",
)
def test_chromium_renders_the_report(tmp_path: Path) -> None:
    assert CHROMIUM, "CI installs chromium (setup.sh)"
    html = tmp_path / "report.html"
    html.write_text(page())
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"]  # fmt: skip
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<tr data-host=") == 6
    assert "app-b" in dom and "Storage drivers" in dom
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", html.as_uri()], capture_output=True, timeout=120, check=True)
    width, height, distinct_rows = _png_size_and_colours(shot)
    assert (width, height) == (1200, 900)
    assert distinct_rows > 50, "the page shows text, bars and a table, not a blank screen"
