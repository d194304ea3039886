"""What users install: the wheel carries everything read at run time (runtime/, templates/, migrations, the
verify suite), and pyinstall run from it, outside the checkout, finds them; one missing is a loud error."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from installer import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("pyinstall-*.whl")
    return found


def _metadata(wheel: Path) -> tuple[Message, str]:
    with zipfile.ZipFile(wheel) as z:
        (info,) = {n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/METADATA")}
        return Parser().parsestr(z.read(f"{info}/METADATA").decode()), z.read(f"{info}/entry_points.txt").decode()


def test_the_wheels_metadata_says_what_an_index_shows(wheel: Path) -> None:
    meta, entry_points = _metadata(wheel)
    assert meta["Name"] == "pyinstall" and meta["Version"] == __version__  # one source: installer/__init__.py
    assert wheel.name.startswith(f"pyinstall-{__version__}-py3-none-any")
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    classifiers = meta.get_all("Classifier")
    assert "Operating System :: POSIX :: Linux" in classifiers and "Environment :: Console" in classifiers
    assert meta["Requires-Python"] == ">=3.9"
    assert f"Programming Language :: Python :: 3.{sys.version_info.minor}" in classifiers, "the Python tested here"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values()), urls
    assert meta["Description-Content-Type"] == "text/markdown" and meta.get_payload().startswith("# pyinstall")
    assert "[console_scripts]\npyinstall = installer.cli:main" in entry_points


def test_twine_finds_the_distributions_fit_to_upload(dist: Path) -> None:
    if importlib.util.find_spec("twine") is None:
        pytest.skip("twine is not installed: pip install -e '.[test]'")
    files = sorted(str(f) for f in dist.iterdir())
    assert len(files) == 2, files  # the sdist and the wheel
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_the_sdist_carries_the_repository_layout(dist: Path) -> None:
    (sdist,) = dist.glob("pyinstall-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for directory in ("runtime", "templates", "installer"):
        expected = {n for n in _tracked(directory) if not n.endswith(".pyc")}
        assert expected <= names, sorted(expected - names)
    assert {"LICENSE", "README.md", "pyproject.toml"} <= names


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
