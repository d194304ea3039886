"""What a site gives its hosts beside the package mirror: an HTTP proxy and a private registry with a CA of
its own, served on the machine for a lab's namespace hosts.

    registry (Debian's docker-registry, TLS, on a unix socket)  ◀─ proxy (CONNECT only, logged) ◀─ share/proxy.sock
    ◀─ /srv/lab-share/proxy.sock in each host ◀─ relay at 127.0.0.1:3128 in dockerd's namespace (dockerd-netns)

The registry asks for a login (LOGIN) and has a name (REGISTRY) that only the proxy resolves: a host reaches it
through the proxy or not at all (Go would never proxy a loopback address, and dockerd takes 127.0.0.0/8 for
insecure registries).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from .forward import pipe
from .host import share

REGISTRY = "registry.pyinstall-lab.test:5000"
PROXY = "http://127.0.0.1:3128"  # as a host's dockerd sees it
LOGIN = ("lab-deploy", "lab-registry-pw")  # the registry lets in no one else (htpasswd, bcrypt)


@dataclass(frozen=True)
class Services:
    ca: Path  # the registry's CA certificate (PEM), for /etc/docker/certs.d/REGISTRY/ca.crt
    log: Path  # one line per request the proxy received: "CONNECT HOST:PORT"

    def connects(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def available() -> str | None:
    """What this machine lacks to serve them, or None."""
    missing = [p for p in ("docker-registry", "openssl") if shutil.which(p) is None]
    return ", ".join(missing) or None


@contextmanager
def serving(repo: Path) -> Iterator[Services]:
    """The proxy and the registry of the lab whose repository is ``repo``, for the block's length."""
    top = repo.parent / "services"
    top.mkdir(exist_ok=True)
    ca, cert, key = _certificates(top)
    registry_socket = top / "registry.sock"
    registry_socket.unlink(missing_ok=True)
    user, password = LOGIN
    (top / "htpasswd").write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    (top / "registry.yml").write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {top / 'data'}}}}}\n"
        f"http: {{net: unix, addr: {registry_socket}, tls: {{certificate: {cert}, key: {key}}}}}\n"
        f"auth: {{htpasswd: {{realm: pyinstall-lab, path: {top / 'htpasswd'}}}}}\n"
        "log: {level: warn}\n"
    )
    with open(top / "registry.log", "ab") as log:
        registry = subprocess.Popen(["docker-registry", "serve", str(top / "registry.yml")], stdout=log, stderr=log)
    proxy = _Proxy(share(repo) / "proxy.sock", top / "proxy.log", {REGISTRY: registry_socket})
    try:
        yield Services(ca, top / "proxy.log")
    finally:
        proxy.close()
        registry.terminate()
        registry.wait(10)


def _certificates(top: Path) -> tuple[Path, Path, Path]:
    ca, ca_key, cert, key = top / "ca.crt", top / "ca.key", top / "registry.crt", top / "registry.key"
    if not cert.exists():
        name = REGISTRY.split(":")[0]
        run = lambda *argv: subprocess.run(argv, check=True, capture_output=True)  # noqa: E731
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=pyinstall lab CA",
            "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key),
            "-out", str(top / "registry.csr"))  # fmt: skip
        (top / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\n")
        run("openssl", "x509", "-req", "-in", str(top / "registry.csr"), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "30", "-extfile", str(top / "ext.cnf"), "-out", str(cert))  # fmt: skip
    return ca, cert, key


class _Proxy:
    """CONNECT only, to the names it maps (to unix sockets); every request line logged, others refused."""

    def __init__(self, path: Path, log: Path, names: dict[str, Path]) -> None:
        path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        path.chmod(0o666)
        self.server.listen(64)
        self.path, self.log, self.names = path, log, names
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.server.close()
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        with self.lock, open(self.log, "a") as log:
            log.write(line.rsplit(" ", 1)[0] + "\n")
        method, _, target = line.partition(" ")
        target = target.rsplit(" ", 1)[0]
        if method != "CONNECT" or target not in self.names:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            client.close()
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(self.names[target]))
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            client.close()
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        pipe(upstream, client)
