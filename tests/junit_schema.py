"""The JUnit schema CI servers read (the Jenkins xunit plugin's junit-10.xsd, MIT licensed), taken from
pytest's source distribution on PyPI, which carries it for its own tests: fetched once into the venv,
never copied into this repository. `bash setup.sh deps` runs `python -m tests.junit_schema`."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(sys.prefix) / "share" / "pyinstall" / "junit-10.xsd"


def path() -> Path:
    if CACHE.exists():
        return CACHE
    version = importlib.metadata.version("pytest")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             f"pytest=={version}", "-d", tmp],
            check=True, capture_output=True,
        )  # fmt: skip
        (sdist,) = Path(tmp).glob("pytest-*.tar.gz")
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/testing/example_scripts/junit-10.xsd"))
            schema = tar.extractfile(member)
            assert schema is not None
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_bytes(schema.read())
    return CACHE


if __name__ == "__main__":
    print(path())
