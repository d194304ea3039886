from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import docker_archive, postgres
from tests.lab import Lab
from tests.lab.testing import Fleet, pyinstall, require_lab

ROOT = Path(__file__).resolve().parent.parent

# The test fleets use their own subnet, so a demo lab (127.0.0.X) can run beside them; a second test
# session beside the first needs another (PYINSTALL_TEST_SUBNET) and its own PYINSTALL_LAB_ROOT. Each
# worker of a parallel session (pytest -n, xdist) has a lab of its own: the next subnet but nine (test_lab.py
# takes 127.0.78 and 127.0.79 for labs of its own) and its own root.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
_SUBNET = os.environ.get("PYINSTALL_TEST_SUBNET", "127.0.77").split(".")
TEST_SUBNET = ".".join([*_SUBNET[:-1], str(int(_SUBNET[-1]) + 10 * WORKER)])
# Run first in a parallel session (pytest -n N --dist loadfile: a module's tests on one worker, its fleets
# shared by its tests), so that the longest module does not start last.
LONGEST = ("test_migration_lab.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONGEST)  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own empty directory: what a run leaves in its working directory (the retry
    file, the saved report) lands there, not in the checkout; the runs it keeps, in its own state dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # What a run prints does not depend on the terminal pytest runs in (a parallel worker has none).
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def unreachable(tmp_path: Path) -> Path:
    """An inventory of one host nothing answers for (port 1 refuses at once): every run ends unreachable."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web1 ansible_host=127.0.0.1 ansible_port=1\n")
    return inventory


@pytest.fixture(scope="session")
def postgresql() -> Iterator[str]:
    """A PostgreSQL server of the tests' own (tests/postgres.py); its URL, for ``postgres.database``."""
    missing = "" if postgres.binaries() else "Debian's postgresql package"
    missing = missing or ("" if importlib.util.find_spec("psycopg") else "psycopg (pip install '.[postgresql]')")
    if missing:
        reason = f"the PostgreSQL tests need {missing}: setup.sh installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL; {reason}")
        pytest.skip(reason)
    with postgres.server() as url:
        yield url


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab per test session: its repo and layers are built once and shared by every fleet."""
    require_lab()
    root = (
        Path(os.environ["PYINSTALL_LAB_ROOT"] + (f"-{WORKER}" if WORKER else ""))
        if "PYINSTALL_LAB_ROOT" in os.environ
        else (tmp_path_factory.mktemp("lab"))
    )
    lab = Lab(root, subnet=TEST_SUBNET)
    yield lab
    lab.down(purge="PYINSTALL_LAB_ROOT" not in os.environ)


@pytest.fixture(scope="session")
def make_fleet(lab: Lab) -> Callable[[str, str], Fleet]:
    """``make_fleet(name, spec)``: hosts named ``NAME-...``, started once per session and shared."""
    fleets: dict[str, Fleet] = {}

    def make(name: str, spec: str) -> Fleet:
        if name not in fleets:
            inventory = lab.root / f"{name}.ini"
            fleets[name] = Fleet(lab, lab.up(spec, prefix=f"{name}-", inventory=inventory), inventory, f"{name}-")
        return fleets[name]

    return make


@pytest.fixture(scope="session")
def el6_bundle(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An offline bundle for EL6 made from the lab's own RPMs (docker-io, libcgroup, yum-plugin-downloadonly,
    device-mapper-libs) and an image (pyinstall/bundled:1, tests/docker_archive.py)."""
    lab.prepare()  # builds the lab's repositories
    source = tmp_path_factory.mktemp("rpms")
    for pattern in ("epel/6/x86_64/docker-io-*.rpm", "centos/6/os/x86_64/libcgroup-*.rpm",
                    "centos/6/os/x86_64/yum-plugin-downloadonly-*.rpm",
                    "centos/6/updates/x86_64/device-mapper-libs-*.rpm"):  # fmt: skip
        for rpm in lab.repo.glob(pattern):
            (source / rpm.name).write_bytes(rpm.read_bytes())
    output = tmp_path_factory.mktemp("bundle") / "el6.bundle"
    image = tmp_path_factory.mktemp("image") / "bundled.tar"
    docker_archive.save(image)  # an application's image, as `docker save` writes it
    proc = pyinstall("bundle", "create", "--platform", "el6", "--from", str(source), "-o", str(output),
                     "--image", str(image), home=tmp_path_factory.mktemp("home"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return output


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel users install, built as a release builds them (the wheel from the sdist)."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("dist")
    # The build writes into the checkout (pyinstall.egg-info): one build at a time across parallel workers.
    with open(Path(tempfile.gettempdir()) / "pyinstall-tests-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv away from the checkout with the wheel installed as a user installs it (its
    dependencies from the package index); the path of its ``pyinstall`` command."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    (wheel,) = dist.glob("pyinstall-*.whl")
    proc = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)],
                          capture_output=True, text=True, cwd=venv, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv / "bin/pyinstall"
