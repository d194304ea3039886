"""What tests need from a lab: fleets of named hosts, and strict-host-key SSH into them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
import testinfra.host
from testinfra.backend.base import CommandResult
from testinfra.backend.ssh import SshBackend

from installer.connection import Session, connect, target_from_vars
from installer.inventory import load

from .fleet import Lab, check_prerequisites
from .host import Host


def require_lab() -> None:
    """Skip (or, in CI, fail) when this machine cannot run the lab."""
    missing = check_prerequisites()
    if missing:
        reason = "the simulated fleet needs: " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to run the lab; {reason}")
        pytest.skip(reason)


@dataclass
class Fleet:
    lab: Lab
    hosts: list[Host]
    inventory: Path
    prefix: str = ""

    def __getitem__(self, name: str) -> Host:
        """A host by its name without the fleet's prefix, e.g. ``fleet["el6-01"]``."""
        for h in self.hosts:
            if h.name == self.prefix + name:
                return h
        raise KeyError(f"{name} (hosts: {', '.join(h.name for h in self.hosts)})")

    def testinfra(self, host: Host) -> testinfra.host.Host:
        """A testinfra host over the ssh CLI, verifying the host key against the lab's known_hosts."""
        extra = (
            f"-o UserKnownHostsFile={self.lab.known_hosts} -o StrictHostKeyChecking=yes -o BatchMode=yes "
            "-o LogLevel=ERROR"
        )
        backend = _QuietSsh(
            f"root@{host.address}:{host.port}",
            ssh_identity_file=str(self.lab.key),
            ssh_extra_args=extra,
            controlpersist=0,
            timeout=10,
        )
        return testinfra.host.Host(backend)

    def session(self, host: Host, **overrides: object) -> Session:
        """pyinstall's own session to the host, from the fleet's inventory (``overrides``: Target fields)."""
        hostvars = load(str(self.inventory)).host(host.name).vars
        return connect(target_from_vars(host.name, hostvars, **overrides))

    def paramiko(self, host: Host, timeout: float = 10.0) -> paramiko.SSHClient:
        """A connected paramiko client that refuses any host key not in the lab's known_hosts."""
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.lab.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            host.address,
            port=host.port,
            username="root",
            key_filename=str(self.lab.key),
            timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
        return client


class _QuietSsh(SshBackend):
    """testinfra's ssh backend, minus what a noisy host's login shell prints before each command: the
    tests' own frame, so that what they check on a host does not depend on pyinstall's."""

    FRAME = "lab-testinfra-frame"

    def run(self, command: str, *args: str, **kwargs: object) -> CommandResult:
        out = self.run_ssh(f"echo {self.FRAME}; echo {self.FRAME} >&2; " + self.get_command(command, *args))
        for stream in ("_stdout", "_stderr"):
            data = getattr(out, stream)
            data = data if isinstance(data, bytes) else self.encode(data)
            _, found, rest = data.partition(f"{self.FRAME}\n".encode())
            setattr(out, stream, rest if found else data)
        return out


PYINSTALL = [sys.executable, "-m", "installer.cli"]
# Every SSH session to a lab host (the sshd child that holds each connection), pyinstall's included.
KILL_SESSIONS = "pkill -9 -f '[s]shd: root@'"


def kill_sessions(host: testinfra.host.Host) -> None:
    """Kill every SSH session to the host, the one that asks included: its own ssh then says "closed by
    remote host", or "Broken pipe" when it writes first."""
    with pytest.raises(RuntimeError, match=r"closed by remote host|Broken pipe"):
        host.run(KILL_SESSIONS)


def pyinstall(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, with an empty HOME: no ~/.ssh/known_hosts or config of this machine."""
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([*PYINSTALL, *args], capture_output=True, text=True, env=env, timeout=timeout)


def pyinstall_json(command: str, *args: str, home: Path, timeout: float = 300) -> tuple[int, dict]:
    """``pyinstall COMMAND --json ARGS``: the exit status and the report's hosts."""
    proc = pyinstall(command, "--json", *args, home=home, timeout=timeout)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["hosts"]


def until(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def wait_for(host, command: str, what: str, seconds: float = 120) -> None:
    """Poll a testinfra host until ``command`` succeeds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + seconds
    while host.run(command).rc != 0:
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@contextmanager
def daemon_json_edited(root: testinfra.host.Host, drop: str, add: dict) -> Iterator[None]:
    """A hand edit of a host's /etc/docker/daemon.json (one key dropped, keys added) and the daemon
    restarted on it, as an operator would; the file and the daemon are put back afterwards."""
    original = root.file("/etc/docker/daemon.json").content_string
    edited = json.loads(original)
    del edited[drop]
    edited.update(add)
    write = "printf '%s' {} > /etc/docker/daemon.json && systemctl restart docker"
    root.run_test(write.format(shlex.quote(json.dumps(edited))))
    try:
        yield
    finally:
        root.run_test(write.format(shlex.quote(original)))


def start_keeper(root: testinfra.host.Host) -> str:
    """Import the probe image as keep:1 on a host and run a container named keeper from it; returns
    ``docker inspect``'s command for its id and state."""
    from installer import probe

    encoded = base64.b64encode(probe.PROBE.read_bytes()).decode()
    root.run_test(f"printf %s {shlex.quote(encoded)} | base64 -d | docker import - keep:1 >/dev/null && "
                  "docker run -d --net=none --name keeper keep:1 /pause")  # fmt: skip
    return "docker inspect -f '{{.Id}} {{.State.Running}}' keeper"


def podman_containers(root: testinfra.host.Host, owner: str, names: list[str]) -> None:
    """Give OWNER's podman store containers named NAMES (a rootless store for a user, created if need be),
    written as containers/storage writes its containers.json: the lab's podman is a stand-in that runs none."""
    home = "/root" if owner == "root" else f"/home/{owner}"
    if owner != "root":
        root.run_test(f"id -u {shlex.quote(owner)} >/dev/null 2>&1 || useradd -m {shlex.quote(owner)}")
    store = (
        "/var/lib/containers/storage/overlay-containers"
        if owner == "root"
        else f"{home}/.local/share/containers/storage/overlay-containers"
    )
    entries = [
        {
            "id": hashlib.sha256(f"{owner}/{name}".encode()).hexdigest(),
            "names": [name],
            "image": hashlib.sha256(b"image").hexdigest(),
            "layer": hashlib.sha256(f"layer/{owner}/{name}".encode()).hexdigest(),
            "metadata": json.dumps({"image-name": "registry.access.redhat.com/ubi9:latest", "name": name}),
            "created": "2024-05-01T10:00:00.000000000Z",
        }
        for name in names
    ]
    owned = "" if owner == "root" else f" && chown -R {shlex.quote(owner)}: {shlex.quote(home)}/.local"
    root.run_test(f"mkdir -p {shlex.quote(store)} && printf %s {shlex.quote(json.dumps(entries))} > "
                  f"{shlex.quote(store)}/containers.json{owned}")  # fmt: skip
