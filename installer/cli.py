"""Command line entry point: the only code that prints to the terminal or exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from installer import __version__

DESCRIPTION = """\
Roll a container runtime out across CentOS/RHEL 6 and 7 machines over plain SSH.
The targets need nothing but a POSIX shell: no Python, no agent."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyinstall", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"pyinstall {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
