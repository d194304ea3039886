"""pyinstall: roll a container runtime out across CentOS/RHEL 6 to 9 fleets (Rocky, AlmaLinux, ...) over plain SSH."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__version__ = "0.1.0"


def package_path(*parts: str) -> Path:
    """A directory the installed package carries (importlib.resources), as a path: the templates' loader,
    the SFTP upload and pytest read files, not resources. An installation that is not unpacked on disk
    (imported from a zip) gives a path that does not exist, and what is read from it says it is missing."""
    from importlib import resources  # here: `--help` needs none of it
    from pathlib import Path

    found = resources.files("installer")
    for part in parts:  # one at a time: a zip's Traversable (Python 3.9) joins one name
        found = found / part
    return Path(str(found))
