"""A single-file pyinstall for jump hosts without pip: a zipapp made by shiv, with every dependency inside.

    python -m image.zipapp --python /usr/bin/python3.9 [--wheel FILE] [-o dist/pyinstall-py39-x86_64.pyz]

Compiled dependencies (cryptography, PyNaCl, bcrypt, PyYAML, SQLAlchemy, createrepo_c) tie the file to one
Python minor version and one machine architecture: it is built *with* that Python (pip resolves for the
interpreter it runs in, so each dependency is the one that Python accepts), and its name says which. It
serves a Python of 3.9 or later: EL9's and Debian 11's python3 is 3.9, EL8's system python3 is 3.6 (too
old: there use the image, or EL8's python39 module). On first run it unpacks into ~/.shiv (SHIV_ROOT).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from image.build import ROOT, BuildError, build_wheel, commit_time, run

SHIV = "shiv==1.0.8"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.zipapp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the Python it is for (default: this one)")
    parser.add_argument("--wheel", type=Path, help="the pyinstall wheel (default: built from here)")
    parser.add_argument("-o", "--output", type=Path, help="default: dist/pyinstall-pyXY-ARCH.pyz")
    args = parser.parse_args(argv)
    try:
        print(build(args.python, args.wheel, args.output))
    except BuildError as exc:
        print(f"image.zipapp: {exc}", file=sys.stderr)
        return 1
    return 0


def build(python: str, wheel: Path | None = None, output: Path | None = None) -> Path:
    """Build the zipapp for ``python``; returns its path."""
    probe = "import sys; print('%d%d' % sys.version_info[:2])"
    tag = run(python, "-c", probe).stdout.strip()
    if int(tag[1:]) < 9:
        raise BuildError(f"{python} is Python {tag[0]}.{tag[1:]}: pyinstall needs 3.9 or later")
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or commit_time()
    output = output or ROOT / f"dist/pyinstall-py{tag}-{platform.machine()}.pyz"
    with tempfile.TemporaryDirectory(prefix="pyinstall-zipapp-") as work:
        work = Path(work)
        wheel = wheel or build_wheel(work / "dist", int(epoch))
        run(python, "-m", "venv", str(work / "venv"))
        pip = [str(work / "venv/bin/python"), "-m", "pip", "-q", "--disable-pip-version-check"]
        run(*pip, "install", SHIV)
        output.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
        run(str(work / "venv/bin/shiv"), "--console-script", "pyinstall", "--output-file", str(output),
             "--python", f"/usr/bin/env python3.{tag[1:]}", "--reproducible", "--compressed",
             "--only-binary=:all:", str(wheel), env=env)  # fmt: skip
    return output


if __name__ == "__main__":
    sys.exit(main())
