"""The container check, one command: import the probe image pyinstall carries (runtime/probe: a static
echo and pause, a few hundred bytes; nothing is pulled, so it works air-gapped), run `echo TOKEN` in it
without a network, remove the image. The host proves it runs containers when the token comes back.
`pyinstall verify` and provision's validation both run it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import cache

from installer.platforms import RUNTIME_DIR

PROBE = RUNTIME_DIR / "probe" / "probe.tar.gz"


@cache
def _image() -> tuple[str, str]:
    data = PROBE.read_bytes()
    return f"pyinstall/probe:{hashlib.sha256(data).hexdigest()[:12]}", base64.b64encode(data).decode()


def image() -> str:
    """The probe image's name on a host: its content's digest is its tag."""
    return _image()[0]


def command(token: str | None = None) -> tuple[str, str]:
    """(the shell command, the token it must print). The image is removed whatever happened."""
    token = token or f"pyinstall-probe-{secrets.token_hex(6)}"
    name, encoded = _image()
    run = (
        f"printf %s {encoded} | base64 -d | docker import - {name} >/dev/null || exit 1; "
        f"docker run --rm --net=none {name} /echo {token}; rc=$?; docker rmi {name} >/dev/null 2>&1; exit $rc"
    )
    return run, token
