"""Day two on a Docker host: the daemon's proxy, private registries' certificates, the docker group's
members and the kernel settings Docker's networking needs. Read from the inventory and validated here,
put on a host as files (files()) and as the plan's operations (plan.py), taken away by `remove` through the
host's ledger, checked by verify and by info's drift.

    docker_proxy, docker_registries, docker_users, docker_sysctls ─▶ read() ─▶ DayTwo
    DayTwo + Platform ─▶ files() ─▶ [ManagedFile]  (the proxy's environment, certs.d, sysctl.d)

The proxy reaches the daemon through its environment, for every version pyinstall installs: a systemd
drop-in naming an EnvironmentFile (root's alone: `systemctl show` would print an Environment= line to
anyone), or, on EL6, /etc/sysconfig/docker exporting that same file. daemon.json's `proxies` (docker-ce 23
and later) is never written: one source for every version.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from installer.platforms import Platform

PROXY_ENVIRONMENT = "/etc/sysconfig/pyinstall-docker-proxy"
PROXY_DROPIN = "/etc/systemd/system/docker.service.d/pyinstall-proxy.conf"
CERTS_DIR = "/etc/docker/certs.d"
# Root's docker CLI reads its registry logins here (other users' clients keep their own).
AUTH_FILE = "/root/.docker/config.json"
SYSCTL_FILE = "/etc/sysctl.d/90-pyinstall-docker.conf"
# The module that makes net.bridge.* exist, loaded at boot before sysctl.d is applied.
MODULES_LOAD = "/etc/modules-load.d/pyinstall-docker.conf"  # systemd-modules-load
MODULES_SCRIPT = "/etc/sysconfig/modules/pyinstall-docker.modules"  # EL6's rc.sysinit runs these
GROUP = "docker"  # the group whose members the daemon's socket lets in

# What Docker's networking needs: packets between containers and out of the host pass through iptables,
# and are forwarded (`docker info` warns of each when it is off).
DEFAULT_SYSCTLS = {
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.ipv4.ip_forward": "1",
}

# What the facts script reads back: the files' text, and the secrets' checksums alone (secret()).
WATCHED = (
    PROXY_DROPIN,
    SYSCTL_FILE,
    MODULES_LOAD,
    MODULES_SCRIPT,
    f"{CERTS_DIR}/*/ca.crt",
    f"{CERTS_DIR}/*/client.cert",
)
WATCHED_SECRETS = (PROXY_ENVIRONMENT, f"{CERTS_DIR}/*/client.key", AUTH_FILE)

# Every file day two writes, as a pattern: what `remove` and a later provision may take away by the ledger.
OWNED = re.compile(
    "|".join(
        re.escape(p) for p in (PROXY_ENVIRONMENT, PROXY_DROPIN, SYSCTL_FILE, MODULES_LOAD, MODULES_SCRIPT, AUTH_FILE)
    )
    + rf"|{re.escape(CERTS_DIR)}/[A-Za-z0-9.-]+(?::\d+)?/(?:ca\.crt|client\.cert|client\.key)"
)

# http(s)://[USER[:PASSWORD]@]HOST[:PORT][/]: nothing a shell or a unit file would read otherwise.
_PROXY_URL = re.compile(
    r"^https?://(?:[A-Za-z0-9._~%!&*+,;=-]+(?::[A-Za-z0-9._~%!&*+,;=-]*)?@)?"
    r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?/?$"
)
# no_proxy's entries as Go's net/http reads them: *, a host or .domain, an address or a network, a :port.
_NO_PROXY = re.compile(
    r"^(?:\*|\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?|[0-9.]+/\d{1,2}|[0-9A-Fa-f:]+(?:/\d{1,3})?)$"
)
# A registry as certs.d names its directory: HOST or HOST:PORT.
_REGISTRY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                       r"(?::\d{1,5})?$")  # fmt: skip
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")  # useradd's default NAME_REGEX, as long as it allows
_SYSCTL = re.compile(r"^[a-z][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)+$")
_SYSCTL_VALUE = re.compile(r"^[A-Za-z0-9._:/-]+(?: [A-Za-z0-9._:/-]+)*$")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
PEM_LIMIT = 256_000  # a CA bundle's size at most


@dataclass(frozen=True)
class Proxy:
    """docker_proxy: the daemon's HTTP(S) proxy. A URL may carry a user and password: then the whole
    setting is a secret (never shown)."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()

    @property
    def secret(self) -> bool:
        return any(url and "@" in url.split("://", 1)[1] for url in (self.http, self.https))

    def environment(self) -> dict[str, str]:
        """As dockerd reads it from its environment (Go's net/http takes both cases; the upper one here)."""
        values = {"HTTP_PROXY": self.http, "HTTPS_PROXY": self.https, "NO_PROXY": ",".join(self.no_proxy) or None}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Registry:
    """One entry of docker_registries: PEM text, each validated when read."""

    name: str  # HOST[:PORT], the directory under certs.d
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@dataclass(frozen=True)
class Login:
    """One entry of docker_registry_auth: a secret everywhere (repr included)."""

    registry: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class DayTwo:
    proxy: Proxy | None = None
    registries: tuple[Registry, ...] = ()
    logins: tuple[Login, ...] = ()  # docker_registry_auth
    users: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSCTLS))

    def secrets(self) -> list[str]:
        """What never reaches a log, a report or a run record: the proxy's and the registries' passwords (as
        written and as meant), the logins as config.json holds them, the client keys."""
        from urllib.parse import unquote

        found: list[str] = []
        if self.proxy is not None:
            for url in (self.proxy.http, self.proxy.https):
                userinfo = url.split("://", 1)[1].rsplit("@", 1)[0] if url and "@" in url else ""
                if ":" in userinfo:
                    written = userinfo.split(":", 1)[1]
                    found += [written, unquote(written)]
        for login in self.logins:
            found += [login.password, auth_token(login)]
        found += [r.client_key for r in self.registries if r.client_key]
        return [s for s in found if s]


class Problem(Exception):
    """What is wrong with one day-two variable, in a sentence; the reader names the variable and host."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def hidden_urls(value: Any) -> str:
    """A value as an error quotes it, with any user and password in a URL hidden."""
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return re.sub(r"(://)[^/@\s'\"]*@", r"\1***@", text)


def read_proxy(value: Any) -> Proxy | None:
    if value is None:
        return None
    example = "give {'https': 'http://proxy.example.com:3128', 'no_proxy': ['localhost', '.example.com']}"
    if not isinstance(value, dict):
        raise Problem(f"{hidden_urls(value)} is not a mapping", example)
    unknown = [k for k in value if k not in ("http", "https", "no_proxy")]
    if unknown:
        raise Problem(f"{hidden_urls(unknown[0])} is not one of http, https, no_proxy", example)
    urls = {}
    for key in ("http", "https"):
        url = value.get(key)
        if url is None:
            continue
        if not isinstance(url, str) or not _PROXY_URL.match(url):
            raise Problem(f"{key}: {hidden_urls(url)} is not a proxy URL",
                          "http://HOST:PORT or http://USER:PASSWORD@HOST:PORT (: @ / encoded)")  # fmt: skip
        urls[key] = url
    if not urls:
        raise Problem("names no proxy (http or https)", example)
    given = value.get("no_proxy") or []
    entries = given.replace(",", " ").split() if isinstance(given, str) else given
    if not isinstance(entries, list) or not all(isinstance(e, str) and _NO_PROXY.match(e) for e in entries):
        raise Problem(f"no_proxy: {hidden_urls(given)} is not a list of hosts, domains or networks",
                      "e.g. ['localhost', '127.0.0.1', '.example.com', '10.0.0.0/8']")  # fmt: skip
    return Proxy(urls.get("http"), urls.get("https"), tuple(entries))


def read_registries(value: Any) -> tuple[Registry, ...]:
    """docker_registries: {HOST[:PORT]: {ca_cert, client_cert, client_key}}, each a file on the controller
    (a relative path from the directory pyinstall runs in, as Ansible reads a key file) or PEM text."""
    if value is None:
        return ()
    example = "give {'registry.example.com:5000': {'ca_cert': 'certs/registry-ca.pem'}}"
    if not isinstance(value, dict):
        raise Problem(f"{hidden_urls(value)} is not a mapping of registries", example)
    out = []
    for name, entry in value.items():
        if not isinstance(name, str) or not _REGISTRY.match(name):
            raise Problem(f"{hidden_urls(name)} is not a registry's HOST or HOST:PORT", example)
        if not isinstance(entry, dict) or not entry:
            raise Problem(f"{name}: give ca_cert, or client_cert and client_key", example)
        unknown = [k for k in entry if k not in ("ca_cert", "client_cert", "client_key")]
        if unknown:
            raise Problem(f"{name}: {hidden_urls(unknown[0])} is not one of ca_cert, client_cert, client_key", example)
        if ("client_cert" in entry) != ("client_key" in entry):
            raise Problem(f"{name}: a client certificate needs its key (client_cert and client_key together)",
                          "give both, or neither")  # fmt: skip
        pem = {key: _pem(name, key, text) for key, text in entry.items()}
        _validate(name, pem)
        out.append(Registry(name, pem.get("ca_cert"), pem.get("client_cert"), pem.get("client_key")))
    return tuple(out)


def _pem(registry: str, key: str, given: Any) -> str:
    """PEM text as given, or read from the file it names."""
    if not isinstance(given, str) or not given.strip():
        raise Problem(f"{registry}.{key}: give a file's path or PEM text", "e.g. certs/registry-ca.pem")
    if _PEM.search(given):
        return given.strip() + "\n"
    if "\n" in given:
        raise Problem(f"{registry}.{key}: neither PEM text (-----BEGIN ...) nor a file's path",
                      "give the path of a PEM file, or its text")  # fmt: skip
    path = Path(os.path.expanduser(given))
    if path.is_file() and path.stat().st_size > PEM_LIMIT:
        raise Problem(f"{registry}.{key}: {given} is larger than {PEM_LIMIT // 1000} KB: not a certificate or key",
                      "give a PEM file's path")  # fmt: skip
    if path.exists() and not path.is_file():
        raise Problem(f"{registry}.{key}: {given} is not a file", "give a PEM file's path")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not ASCII text"
        raise Problem(f"{registry}.{key}: cannot read {given} ({reason}; relative paths are read from "
                      f"{os.getcwd()})", "give a PEM file's path, or the PEM text itself") from None  # fmt: skip
    if not _PEM.search(text):
        raise Problem(f"{registry}.{key}: {given} holds no PEM block (-----BEGIN ...)", "give a PEM file")
    return text.strip() + "\n"


def _validate(registry: str, pem: dict[str, str]) -> None:
    """Certificates parse, the key is a private key without a passphrase (dockerd cannot ask for one), and
    the client certificate is the key's: before any host is touched."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    def certificates(key: str) -> list[Any]:
        try:
            return x509.load_pem_x509_certificates(pem[key].encode())
        except ValueError:
            raise Problem(f"{registry}.{key}: not a PEM certificate", "give a certificate (-----BEGIN "
                          "CERTIFICATE-----)") from None  # fmt: skip

    if "ca_cert" in pem:
        certificates("ca_cert")
    if "client_key" in pem:
        cert = certificates("client_cert")[0]
        try:
            key = serialization.load_pem_private_key(pem["client_key"].encode(), password=None)
        except TypeError:
            raise Problem(
                f"{registry}.client_key: the key is encrypted; dockerd cannot ask for its passphrase",
                "decrypt it (openssl pkey -in KEY -out KEY.plain) and keep it as a secret",
            ) from None
        except ValueError:
            raise Problem(f"{registry}.client_key: not a PEM private key", "give the client certificate's "
                          "private key") from None  # fmt: skip
        raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
            raise Problem(f"{registry}: client_cert and client_key are not a pair", "give the key the "
                          "certificate was issued for")  # fmt: skip


def read_logins(value: Any) -> tuple[Login, ...]:
    """docker_registry_auth: {HOST[:PORT]: {username, password}}, for root's docker CLI."""
    if value is None:
        return ()
    example = "give {'registry.example.com:5000': {'username': 'deploy', 'password': '{{ vault_registry_pw }}'}}"
    if not isinstance(value, dict):
        raise Problem("is not a mapping of registries (its text is not shown: it may hold a password)", example)
    out = []
    for name, entry in value.items():
        if not isinstance(name, str) or not _REGISTRY.match(name):
            raise Problem(f"{hidden_urls(name)} is not a registry's HOST or HOST:PORT", example)
        if not isinstance(entry, dict) or set(entry) != {"username", "password"}:
            raise Problem(f"{name}: give username and password, and nothing else", example)
        user, password = entry["username"], entry["password"]
        if not isinstance(user, str) or not user or ":" in user or not user.isprintable():
            raise Problem(f"{name}: username must be one line of text without ':'", example)
        if not isinstance(password, str) or not password or not password.isprintable():
            raise Problem(f"{name}: password must be one line of text (it is not shown)", example)
        out.append(Login(name, user, password))
    return tuple(out)


def auth_file(logins: tuple[Login, ...]) -> str:
    """Root's ~/.docker/config.json as `docker login` writes it (without a credential store)."""
    import json

    auths = {login.registry: {"auth": auth_token(login)} for login in logins}
    return json.dumps({"auths": auths}, indent=2, sort_keys=True) + "\n"


def auth_token(login: Login) -> str:
    """USER:PASSWORD, base64-encoded, as `docker login` keeps it."""
    import base64

    return base64.b64encode(f"{login.username}:{login.password}".encode()).decode()


def read_users(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    names = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and _USER.match(n) for n in names):
        raise Problem(f"{hidden_urls(value)} is not a list of user names", "e.g. ['alice', 'deploy']")
    if "root" in names:
        raise Problem("root needs no group to reach the daemon", "leave root out")
    return tuple(dict.fromkeys(names))


def read_sysctls(value: Any) -> dict[str, str]:
    """docker_sysctls over DEFAULT_SYSCTLS: a key set to null drops it; the whole variable null, all."""
    out = dict(DEFAULT_SYSCTLS)
    if value is None:
        return out
    if not isinstance(value, dict):
        raise Problem(f"{hidden_urls(value)} is not a mapping of kernel settings",
                      "e.g. {'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-ip6tables': null}")  # fmt: skip
    for key, given in value.items():
        if not isinstance(key, str) or not _SYSCTL.match(key):
            raise Problem(f"{hidden_urls(key)} is not a kernel setting's name", "e.g. net.ipv4.ip_forward")
        if given is None:
            out.pop(key, None)
            continue
        text = str(int(given)) if isinstance(given, bool) else str(given) if isinstance(given, (int, str)) else ""
        if not _SYSCTL_VALUE.match(text):
            raise Problem(f"{key}: {hidden_urls(given)} is not a kernel setting's value", "e.g. 1")
        out[key] = text
    return out


def files(day_two: DayTwo, platform: Platform) -> list[Any]:
    """The files day two writes on a host of ``platform``: ManagedFile, each tagged for --tags."""
    from installer.runtime import ManagedFile, render

    out = []
    proxy = day_two.proxy
    if proxy is not None:
        text = render("docker-proxy.env.j2", path=PROXY_ENVIRONMENT, variables=proxy.environment())
        out.append(ManagedFile(PROXY_ENVIRONMENT, text, mode=0o600, restarts_daemon=True, secret=proxy.secret,
                               tag="proxy"))  # fmt: skip
        if platform.service.reload:  # systemd: EL6's /etc/sysconfig/docker exports it instead
            dropin = render("docker-proxy.conf.j2", environment=PROXY_ENVIRONMENT)
            out.append(ManagedFile(PROXY_DROPIN, dropin, restarts_daemon=True, tag="proxy"))
    for r in day_two.registries:
        base = f"{CERTS_DIR}/{r.name}"
        if r.ca_cert:
            out.append(ManagedFile(f"{base}/ca.crt", r.ca_cert, tag="registries"))
        if r.client_cert and r.client_key:
            out.append(ManagedFile(f"{base}/client.cert", r.client_cert, tag="registries"))
            out.append(ManagedFile(f"{base}/client.key", r.client_key, mode=0o600, secret=True, tag="registries"))
    if day_two.logins:
        out.append(ManagedFile(AUTH_FILE, auth_file(day_two.logins), mode=0o600, secret=True, tag="registries"))
    if day_two.sysctls:
        text = render("sysctl-docker.conf.j2", path=SYSCTL_FILE, sysctls=day_two.sysctls)
        out.append(ManagedFile(SYSCTL_FILE, text, tag="sysctl"))
        bridged = any(k.startswith("net.bridge.") for k in day_two.sysctls)
        module = platform.bridge_netfilter if bridged else None
        if module and platform.service.reload:
            out.append(ManagedFile(MODULES_LOAD, render("modules-load.conf.j2", module=module), tag="sysctl"))
        elif module:
            script = render("modules-load.sh.j2", module=module)
            out.append(ManagedFile(MODULES_SCRIPT, script, mode=0o755, tag="sysctl"))
    return out


def owned(path: str) -> bool:
    """A file day two writes (the host's ledger names it; nothing else is ever taken away by its word)."""
    return OWNED.fullmatch(path) is not None


def secret(path: str) -> bool:
    """A file whose text never leaves the host (its checksum does): the proxy's environment (a password may
    be in it) and a client key."""
    return path in (PROXY_ENVIRONMENT, AUTH_FILE) or (path.startswith(CERTS_DIR + "/") and path.endswith("/client.key"))


def tag_of(path: str) -> str:
    """The --tags name of a file day two writes."""
    if path.startswith(CERTS_DIR + "/") or path == AUTH_FILE:
        return "registries"
    return "proxy" if path in (PROXY_ENVIRONMENT, PROXY_DROPIN) else "sysctl"


def read_by_daemon(path: str) -> bool:
    """The daemon reads it when it starts (a change means a restart); certs.d is read at each connection."""
    return path in (PROXY_ENVIRONMENT, PROXY_DROPIN)


def valid_user(name: str) -> bool:
    return _USER.match(name) is not None and name != "root"
