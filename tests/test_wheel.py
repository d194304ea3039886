"""What users install: the wheel carries everything read at run time (runtime/, templates/, migrations, the
verify suite), and pyinstall run from it, outside the checkout, finds them; one missing is a loud error."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (found,) = out.glob("pyinstall-*.whl")
    return found


def _tracked(directory: str) -> set[str]:
    listed = subprocess.run(["git", "ls-files", directory], capture_output=True, text=True, cwd=ROOT, check=True)
    return {line for line in listed.stdout.splitlines() if line}


def test_the_wheel_carries_every_file_read_at_run_time(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for directory in ("runtime", "templates"):
        expected = {f"installer/data/{name}" for name in _tracked(directory)}
        assert expected and expected <= names, sorted(expected - names)
    for directory in ("installer/migrations", "installer/verify/suite"):
        expected = {name for name in _tracked(directory) if not name.endswith("__pycache__")}
        assert expected and expected <= names, sorted(expected - names)
    assert not any(n.startswith(("runtime/", "templates/", "tests/")) for n in names), "only the package"


def _unpacked(wheel: Path, tmp_path: Path) -> Path:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    return target


def _run(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    """pyinstall from the unpacked wheel (PYTHONPATH comes before the checkout's editable install), run
    away from the checkout; its dependencies are this interpreter's."""
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(cwd)}
    env.pop("PYINSTALL_HOME", None)
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_pyinstall_from_the_wheel_finds_its_platforms_and_fails_loudly_without_them(
    wheel: Path, tmp_path: Path
) -> None:
    site = _unpacked(wheel, tmp_path)
    code = ("import json; from installer import platforms, probe; print(json.dumps(["
            "str(platforms.RUNTIME_DIR), str(platforms.TEMPLATES_DIR), [p.id for p in platforms.all_platforms()], "
            "probe.PROBE.is_file()]))")  # fmt: skip
    proc = _run(site, tmp_path, "-c", code)
    assert proc.returncode == 0, proc.stderr
    runtime, templates, ids, probe = json.loads(proc.stdout)
    assert runtime == str(site / "installer/data/runtime") and templates == str(site / "installer/data/templates")
    assert ids[:2] == ["el6", "el7"] and probe
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web1 ansible_host=127.0.0.1 ansible_port=1\n")
    (site / "installer/data/runtime/storage.yml").unlink()
    proc = _run(site, tmp_path, "-m", "installer.cli", "check", str(inventory))
    assert proc.returncode != 0
    assert "storage.yml is missing: this installation of pyinstall is incomplete" in proc.stderr, proc.stderr
