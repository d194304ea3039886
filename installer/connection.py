"""SSH sessions to hosts: the only module that imports fabric and paramiko.

    Target (from inventory vars + options) ─▶ connect() ─▶ Session.run(command, timeout) ─▶ CommandResult

Host keys are verified: the user's known_hosts plus any file named by option or inventory var. An
unknown key is refused with its SHA256 fingerprint, unless ``accept_new`` (OpenSSH's accept-new: record
it, never replace it; asked by --accept-new-host-keys, host_key_checking=false wherever set, or
StrictHostKeyChecking no/accept-new in ~/.ssh/config); a changed key is always refused.
Fabric on its own accepts any key.
Paramiko's and the socket layer's exceptions become the project's errors, each with a hint.
Fabric opens the connection (~/.ssh/config, keys, agent) and its SFTP; each command runs on a paramiko
channel read by the thread that asked (invoke's runner took three threads and 3.7 ms of CPU a command
where this takes 1.9).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import logging
import os
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import fabric
import paramiko

from installer import ansible_vars, events, interrupts, localfiles
from installer.errors import (
    AuthenticationFailed,
    BecomeError,
    CommandTimeout,
    HostDiskFull,
    HostError,
    HostHung,
    HostKeyChanged,
    HostKeyUnknown,
    Unreachable,
)
from installer.truth import boolean
from installer.vocabulary import CONNECT_TIMEOUT

COMMAND_TIMEOUT = 120.0  # seconds, unless a caller says otherwise
OUTCOME_UNKNOWN_HINT = "the outcome on the host is unknown; check it, then run again"
USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")  # OpenSSH's defaults
# ~/.ssh/config's StrictHostKeyChecking values that record an unknown key: accept-new, never a changed key
STRICT_OFF = ("no", "off", "accept-new", "false")
_SUDO_PROMPT = "[pyinstall-sudo-password]"  # unique: the password is typed at this prompt and no other
_SU_PROMPTS = ("Password:", "password:")  # su in the C locale (util-linux, shadow-utils), PAM's pam_unix
OUTPUT_CAP = 32 << 20  # bytes a command may print (stdout and stderr together) before it is stopped
NOISE_KEPT = 5  # distinct pieces of host noise a session keeps, to show under -vv
LOGGED_OUTPUT = 64 << 10  # characters of a command's output the debug log keeps
_CHUNK = 1 << 15  # bytes read from a channel at a time
_PROMPT_WATCHED = 64 << 10  # bytes of output in which sudo's prompt is looked for: it asks before the command runs

# Paramiko logs transport errors to stderr through logging's last resort; each one reaches the user as
# one of the project's errors instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

# paramiko checks each packet's MAC with a byte-by-byte loop in Python: on a fleet, a third of the
# controller's CPU. The standard library's comparison is just as constant-time, and in C. (Ciphers with
# a MAC are what EL6's OpenSSH 5.3 offers: AES-GCM, checked by the cryptography library, came later.)
paramiko.util.constant_time_bytes_eq = hmac.compare_digest


@dataclass(frozen=True)
class Target:
    """Everything needed to reach one host. ``password``/``become_password`` never appear in repr."""

    name: str  # inventory name
    address: str  # ansible_host, or the name
    port: int | None = None  # None: ~/.ssh/config, else 22
    user: str | None = None  # None: ~/.ssh/config, else the local user
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    become: bool = False
    become_user: str = "root"
    become_password: str | None = field(default=None, repr=False)
    known_hosts: tuple[str, ...] = ()  # beside the user's own ~/.ssh/known_hosts
    accept_new: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    key_data: str | None = field(default=None, repr=False)  # a private key itself (ansible_private_key)
    key_passphrase: str | None = field(default=None, repr=False)
    become_method: str = "sudo"  # or su
    become_exe: str | None = None  # the sudo or su program, when not the one on PATH
    su_prompts: tuple[str, ...] = ()  # su's password prompt in other languages (ansible_su_prompt_l10n)
    shell: str = "sh"  # what runs each command (ansible_shell_executable)
    proxy_command: str | None = None  # ProxyCommand: %h, %p and %r expanded
    proxy_jump: str | None = None  # ProxyJump: [user@]host[:port], comma-separated hops
    retries: int = 0  # connection attempts after the first (ansible_ssh_retries, ConnectionAttempts)
    compression: bool = False
    keepalive: int = 0  # seconds between keepalives (ServerAliveInterval), 0: none
    rsa_sha2: bool = True  # offer rsa-sha2-256/512 signatures (ansible_paramiko_use_rsa_sha2_algorithms)


@dataclass(frozen=True)
class CommandResult:
    command: str
    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class _KnownHostsFiles:
    """known_hosts files, each parsed once per run (again only once it changed on disk) and shared by every
    connection: each one used to re-read whole files, which grows with the fleet squared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int], paramiko.HostKeys]] = {}

    def parsed(self, path: Path) -> paramiko.HostKeys:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._parsed.get(path)
            if cached is None or cached[0] != stamp:
                keys = paramiko.HostKeys()
                keys.load(str(path))
                cached = self._parsed[path] = (stamp, keys)
        return cached[1]


_KNOWN_HOSTS = _KnownHostsFiles()


class _VerifyPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only for a server with no known_hosts entry."""

    _lock = threading.Lock()  # accept-new appends to one file from many threads

    def __init__(self, target: Target, record_in: Path) -> None:
        self.target, self.record_in = target, record_in

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.target.accept_new:
            raise HostKeyUnknown(
                self.target.name,
                f"host key of {hostname} is not known ({key.get_name()} {fingerprint(key)})",
                f"check the fingerprint with the host's owner, then run again with --accept-new-host-keys "
                f"(it records the key in {self.record_in}), or add it there yourself",
            )
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with self._lock:
            try:
                self.record_in.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with localfiles.open_private(str(self.record_in), append=True) as f:
                    f.write(line)
            except (OSError, localfiles.LocalFileError) as exc:
                why = exc.message if isinstance(exc, localfiles.LocalFileError) else f"{exc.strerror or exc}"
                raise HostKeyUnknown(self.target.name, f"host key of {hostname} could not be recorded: {why}",
                                     "give a known_hosts file you may write (--known-hosts)") from None  # fmt: skip
        client.get_host_keys().add(hostname, key.get_name(), key)


class _Lines:
    """A command's output as lines, while it runs: only what is inside the session's frame (a banner or a
    profile's noise before it, the frame's own lines and its exit status are not the command's), the
    become password masked. Each stream holds its last line back until the next: the frame's end is
    preceded by a newline of its own, which is not the command's."""

    def __init__(self, token: str, emit: Callable[[str, str], None], password: str | None) -> None:
        self.token, self.emit, self.password = token, emit, password
        self.partial = {"stdout": b"", "stderr": b""}
        self.inside = {"stdout": False, "stderr": False}
        self.held: dict[str, str | None] = {"stdout": None, "stderr": None}

    def feed(self, stream: str, data: bytes) -> None:
        *complete, self.partial[stream] = (self.partial[stream] + data).split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace").removesuffix("\r")
            if line == self.token:  # the frame's start (a pty carries stderr's on stdout too)
                self.inside[stream] = True
                continue
            if not self.inside[stream]:
                continue
            if line.startswith(self.token + " "):  # the frame's end: the newline before it was its own
                if self.held[stream] == "":
                    self.held[stream] = None
                self.inside[stream] = False
            self._release(stream)
            if self.inside[stream]:
                self.held[stream] = line

    def _release(self, stream: str) -> None:
        held, self.held[stream] = self.held[stream], None
        if held is not None:
            self.emit(stream, held.replace(self.password, "********") if self.password else held)

    def close(self) -> None:
        """What a stream still holds when the command ends (stderr's last line, output without a frame end)."""
        for stream in ("stdout", "stderr"):
            if self.inside[stream] and self.partial[stream]:
                self.feed(stream, b"\n")
            self._release(stream)


class Session:
    """One SSH connection to one host, reused for every command of a run."""

    def __init__(self, target: Target, connection: fabric.Connection, hops: list[Session] | None = None) -> None:
        self.target = target
        self._conn = connection
        self._hops = hops or []  # the jump hosts' sessions this one goes through (ProxyJump)
        self.commands_run = 0  # what a run costs, for tests and benchmarks
        self.noise: list[str] = []  # what the host printed around pyinstall's frames (a banner, a profile)
        self._ran = f"pyinstall-ran-{secrets.token_hex(8)}"  # what every command prints first, on both streams
        self.stop: threading.Event | None = None  # set on Ctrl-C: every wait ends (installer/interrupts.py)

    def run(
        self,
        command: str,
        timeout: float = COMMAND_TIMEOUT,
        become: bool | None = None,
        what: str | None = None,
        lines: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        """Run a POSIX shell command (``sh -c``), as the become user if asked. Never raises on rc != 0.
        ``what``: the command's name in a message (else its first line). ``lines(stream, line)``: each line
        the command prints (stream: stdout or stderr), as it comes; the result has them all too."""
        become = self.target.become if become is None else become
        sudo = become and self.target.become_user != self.target_user  # sudo, or su: a pty and a prompt
        # Every command is framed by a per-session token: printed first on stdout and stderr, and last on
        # stdout with the command's exit status. Whatever the login shell (a .bashrc banner), motd or sudo
        # print outside the frame is host noise, kept aside. Whether sudo ran the command at all is told by
        # the token too, and a refused password by sudo asking again with pyinstall's own prompt: never by
        # sudo's words, which are in the host's language. The subshell keeps the command's own `exit` and
        # EXIT traps from skipping the last frame.
        wrapped = f"{shlex.quote(self.target.shell)} -c " + shlex.quote(
            f"echo {self._ran}; echo {self._ran} >&2; LC_ALL=C; export LC_ALL; ({command}\n); "
            f"printf '\\n{self._ran} %s\\n' $?"
        )
        answer = None if self.target.become_password is None else self.target.become_password + "\n"
        prompts: tuple[str, ...] = (_SUDO_PROMPT,)
        if sudo and self.target.become_method == "su":
            # su has no prompt option: in the C locale it asks "Password:", and in the languages given.
            exe, prompts = shlex.quote(self.target.become_exe or "su"), (*_SU_PROMPTS, *self.target.su_prompts)
            wrapped = f"LC_ALL=C {exe} {shlex.quote(self.target.become_user)} -c {shlex.quote(wrapped)}"
        elif sudo:
            exe, user = shlex.quote(self.target.become_exe or "sudo"), shlex.quote(self.target.become_user)
            if self.target.become_password is None:
                wrapped = f"LC_ALL=C {exe} -n -H -u {user} -- {wrapped}"
            else:
                wrapped = f"LC_ALL=C {exe} -S -p {shlex.quote(_SUDO_PROMPT)} -H -u {user} -- {wrapped}"
        start = time.monotonic()
        self._ensure_open()
        self.commands_run += 1
        try:
            # A pty for sudo: "Defaults requiretty" refuses sudo without one, and the password is then
            # typed into it (echo off), never passed in argv.
            sink = _Lines(self._ran, lines, self.target.become_password) if lines else None
            rc, stdout, stderr = self._exec(wrapped, timeout, pty=sudo, answer=answer if sudo else None,
                                            prompts=prompts, sink=sink)  # fmt: skip
            if sink:
                sink.close()
        except (CommandTimeout, OutputTooLarge) as exc:  # the command named: which one hung or flooded
            named = what or next((line.strip() for line in command.splitlines() if line.strip()), "")[:80]
            raise type(exc)(self.target.name, f"{named}: {exc.message}", exc.hint) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            if "Timeout opening channel" in str(exc):  # the connection is up, the host no longer serves it
                raise HostHung(
                    self.target.name,
                    f"the host stopped answering (no session opened within {self.target.connect_timeout:g}s)",
                    OUTCOME_UNKNOWN_HINT,
                ) from None
            what = f"connection lost while running a command: {exc or type(exc).__name__}"
            raise Unreachable(self.target.name, what, OUTCOME_UNKNOWN_HINT) from None
        if self.target.become_password:
            stdout = stdout.replace(self.target.become_password, "********")
            stderr = stderr.replace(self.target.become_password, "********")
        if sudo:  # a pty
            stdout = stdout.replace("\r\n", "\n")
        before, ran, framed = stdout.partition(self._ran + "\n")
        if sudo and not ran:  # sudo itself refused: the command never started
            _sudo_refused(self.target, (before + stderr).replace(_SUDO_PROMPT, "").strip())
        after = ""
        if ran:
            stdout = framed.removeprefix(self._ran + "\n")  # a pty carries stderr's token on stdout too
            body, end, tail = stdout.rpartition(f"\n{self._ran} ")
            status, _, after = tail.partition("\n")
            if end and status.isdigit():  # the command's own exit status, whatever wraps the session
                stdout, rc = body, int(status)
        elif not sudo:
            before = ""  # no frame at all: nothing to tell apart
        err_before, found, rest = stderr.partition(self._ran + "\n")
        stderr = rest if found else stderr
        self._keep_noise(before + after + (err_before if found else ""))
        if rc == -1:  # paramiko's "no exit status": the session ended, or a signal killed sh
            if self._lost():
                raise Unreachable(
                    self.target.name,
                    "connection lost while running a command: the session ended without an exit status",
                    OUTCOME_UNKNOWN_HINT,
                )
            stderr += "\n(the command was killed by a signal: no exit status)"
        done = CommandResult(command, rc, stdout, stderr, time.monotonic() - start)
        if events.wants_commands():
            said = f"{stdout}{stderr}"
            said = said if len(said) <= LOGGED_OUTPUT else f"{said[:LOGGED_OUTPUT]}... ({len(said)} characters)"
            events.emit(events.COMMAND, self.target.name, status=f"rc={rc} in {done.duration:.2f}s",
                        detail=f"$ {command}\n{said}".rstrip("\n"))  # fmt: skip
        return done

    def _exec(
        self,
        command: str,
        timeout: float,
        pty: bool,
        answer: str | None,
        prompts: tuple[str, ...] = (),
        sink: _Lines | None = None,
    ) -> tuple[int, str, str]:
        """One command on a channel of its own, read in this thread: (exit status, -1 if none came; stdout;
        stderr). Both streams are read as they come (they share the channel's window: an unread stderr
        would stall stdout), the become prompt is answered once (and only before the command's own output
        starts), and the timeout and the output cap end the command by closing its channel."""
        channel = self._conn.transport.open_session(timeout=self.target.connect_timeout)
        try:
            if pty:
                channel.get_pty()
            channel.exec_command(command)
            ready = select.poll()  # not select(): a large fleet's descriptors go past FD_SETSIZE
            ready.register(channel.fileno(), select.POLLIN)  # readable while either stream holds data
            out, err = bytearray(), bytearray()
            asking, answered, started = [p.encode() for p in prompts], False, self._ran.encode()
            deadline = time.monotonic() + timeout
            while True:
                if channel.recv_ready():
                    data = channel.recv(_CHUNK)
                    out += data
                    if sink:
                        sink.feed("stdout", data)
                elif channel.recv_stderr_ready():
                    data = channel.recv_stderr(_CHUNK)
                    err += data
                    if sink:
                        sink.feed("stderr", data)
                elif channel.eof_received or channel.closed:
                    break
                else:
                    ready.poll(min(interrupts.POLL, max(0.0, deadline - time.monotonic())) * 1000)
                    interrupts.check(self.stop, "a command to finish")
                if time.monotonic() >= deadline:
                    raise self._timed_out(timeout)
                if len(out) + len(err) > OUTPUT_CAP:
                    raise OutputTooLarge(
                        self.target.name,
                        f"a command printed more than {OUTPUT_CAP >> 20} MB; pyinstall stopped it and read no further",
                        "look on the host for what makes it so verbose (a wrapper script, a debug setting), then "
                        "run again",
                    )
                if pty and len(out) <= _PROMPT_WATCHED and started not in out:  # it asks before the command
                    asked = sum(out.count(p) for p in asking)
                    method = self.target.become_method
                    if asked > 1:  # asked again: refused (sudo's "try again" is in the host's language)
                        raise BecomeError(
                            self.target.name,
                            f"{method} refused the become password for {self.target.become_user!r}",
                            "check ansible_become_password / --ask-become-pass",
                        )
                    if asked and answer is None:
                        raise BecomeError(self.target.name, f"{method} asked for a password and none was given",
                                          "give it with --ask-become-pass or ansible_become_password")  # fmt: skip
                    if asked and not answered:  # once: no second attempt (account lockouts)
                        channel.sendall(answer.encode())
                        answered = True
            # the exit status comes after the end of the output
            while not channel.status_event.wait(min(interrupts.POLL, max(0.0, deadline - time.monotonic()))):
                interrupts.check(self.stop, "a command to finish")
                if time.monotonic() >= deadline:
                    raise self._timed_out(timeout)
            rc = channel.exit_status
        finally:
            with contextlib.suppress(EOFError, OSError, paramiko.SSHException):  # a connection gone bad
                channel.close()
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _timed_out(self, timeout: float) -> CommandTimeout:
        return CommandTimeout(
            self.target.name,
            f"command did not finish within {timeout:g}s; its outcome is unknown",
            "the host may be overloaded or hung; check it, then run again",
        )

    def _keep_noise(self, noise: str) -> None:
        noise = noise.replace(_SUDO_PROMPT, "").strip()
        if noise and noise not in self.noise and len(self.noise) < NOISE_KEPT:
            self.noise.append(noise[:2000])
            events.emit(events.COMMAND, self.target.name, status="host noise (ignored)", detail=noise[:2000])

    def put_file(self, local: Path, remote: str, chunk: int = 1 << 20) -> int:
        """Upload over SFTP, appending to what an interrupted upload left at ``remote``; returns the bytes
        sent. The caller verifies the checksum on the host before using the file."""
        self._ensure_open()
        try:
            with _closed_on(self.stop, self._conn.transport):
                return self._append(local, remote, chunk)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            interrupts.check(self.stop, f"the upload of {local.name}")  # the wait Ctrl-C cut off
            raise Unreachable(
                self.target.name,
                f"upload of {local.name} to {remote} broke off: {exc or type(exc).__name__}",
                "run again: the upload resumes where it stopped",
            ) from None

    def _append(self, local: Path, remote: str, chunk: int) -> int:
        sftp = self._conn.sftp()
        try:
            offset = sftp.stat(remote).st_size or 0
        except OSError:
            offset = 0
        size = local.stat().st_size
        if offset > size:
            sftp.remove(remote)
            offset = 0
        sent = 0
        with open(local, "rb") as src, sftp.open(remote, "ab") as dst:
            dst.set_pipelined(True)  # without it each block waits for the server's acknowledgement
            src.seek(offset)
            for block in iter(lambda: src.read(chunk), b""):
                interrupts.check(self.stop, f"the upload of {local.name}")
                dst.write(block)
                sent += len(block)
        return sent

    def _ensure_open(self) -> None:
        """Connect again if the connection dropped since the last command (a reboot, a network blip):
        the host key is verified again, as on the first connection."""
        if not self._conn.is_connected:
            self._conn._sftp = None  # bound to the dead transport; fabric makes a new one on demand
            self._close_hops()
            self._hops = _open(self._conn, self.target)

    def _lost(self) -> bool:
        """Whether the connection is gone. The transport records why it died before it closes its
        channels, so this holds as soon as a command returns without an exit status."""
        transport = self._conn.transport
        return transport is None or not transport.is_active() or transport.saved_exception is not None

    @property
    def target_user(self) -> str:
        return self._conn.user

    def close(self) -> None:
        try:
            self._conn.close()
        except (OSError, EOFError, paramiko.SSHException):
            # The peer is gone (its SFTP channel cannot be closed politely): drop the transport regardless.
            self._conn.client.close()
        self._close_hops()

    def channel_to(self, host: str, port: int, target: Target) -> paramiko.Channel:
        """A channel from this host to ``host:port``: the socket of a connection that jumps through it."""
        try:
            return self._conn.transport.open_channel(
                "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=target.connect_timeout
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise Unreachable(
                target.name,
                f"jump host {self.target.address} could not reach {host}:{port}: {exc or type(exc).__name__}",
                "check that the jump host reaches it, and that its sshd allows forwarding (AllowTcpForwarding)",
            ) from None

    def _close_hops(self) -> None:
        for hop in reversed(self._hops):
            hop.close()
        self._hops = []

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _closed_on(stop: threading.Event | None, transport: paramiko.Transport) -> Iterator[None]:
    """Close ``transport`` as soon as ``stop`` is set: whatever the upload waits for then ends too (the
    SFTP server's greeting, an answer to stat or open, a write blocked on a full window)."""
    done = threading.Event()

    def watch() -> None:
        while stop is not None and not done.wait(interrupts.POLL):
            if stop.is_set():
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                    transport.close()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


def _sudo_refused(target: Target, said: str) -> NoReturn:
    method = target.become_method
    for prompt in (*_SU_PROMPTS, *target.su_prompts):
        said = said.replace(prompt, "").strip()
    words = f": {method} said {said[-300:]!r}" if said else ""
    if method == "su":
        raise BecomeError(
            target.name,
            f"su did not run the command as {target.become_user!r}{words}",
            f"check ansible_become_password: su asks for {target.become_user}'s password",
        )
    if target.become_password is None:
        raise BecomeError(
            target.name,
            f"sudo did not run the command as {target.become_user!r} without a password{words}",
            "give the password with --ask-become-pass or ansible_become_password, or let "
            f"{target.user or 'the SSH user'} use sudo without one (/etc/sudoers.d/)",
        )
    raise BecomeError(
        target.name,
        f"sudo did not run the command as {target.become_user!r}{words}",
        f"check that {target.user or 'the SSH user'} may use sudo for {target.become_user!r} (/etc/sudoers.d/)",
    )


def _known_hosts_files(target: Target) -> list[Path]:
    """Every known_hosts file that vouches for a host key: ~/.ssh/config's UserKnownHostsFile (else
    ~/.ssh/known_hosts) and GlobalKnownHostsFile (else /etc/ssh/ssh_known_hosts), as OpenSSH reads them,
    and the files named by option or inventory."""
    user, global_ = ssh_config_known_hosts(target.address)
    files = [*user, *global_, *(Path(p).expanduser() for p in target.known_hosts)]
    return [p for p in dict.fromkeys(files) if p.is_file()]


def ssh_config_known_hosts(address: str) -> tuple[list[Path], list[Path]]:
    """~/.ssh/config's UserKnownHostsFile and GlobalKnownHostsFile for ``address`` (OpenSSH's defaults
    where it names none; ``none``: no file)."""
    found = _ssh_config().lookup(address)

    def paths(key: str, default: tuple[str, ...]) -> list[Path]:
        words = str(found.get(key, "")).split() or list(default)
        home = str(Path.home())
        return [Path(w.replace("%d", home).replace("%u", os.environ.get("USER", ""))).expanduser()
                for w in words if w.lower() != "none"]  # fmt: skip

    return paths("userknownhostsfile", (str(USER_KNOWN_HOSTS),)), paths("globalknownhostsfile", GLOBAL_KNOWN_HOSTS)


def strict_host_key_checking(address: str) -> str:
    """~/.ssh/config's StrictHostKeyChecking for ``address`` (lower case), "" when unset."""
    return str(_ssh_config().lookup(address).get("stricthostkeychecking", "")).lower()


def _forget_command(hostname: str, target: Target) -> str:
    """The ssh-keygen line that removes ``hostname``'s entry, naming the file that holds it when it is not
    the user's own known_hosts (ssh-keygen's default)."""
    command = f"ssh-keygen -R {shlex.quote(hostname)}"
    for path in _known_hosts_files(target):
        try:
            holds = _KNOWN_HOSTS.parsed(path).lookup(hostname) is not None
        except (OSError, paramiko.SSHException):
            continue
        if holds:
            default = path == USER_KNOWN_HOSTS.expanduser()
            return command if default else f"{command} -f {shlex.quote(str(path))}"
    return command


class OutputTooLarge(HostError):
    """A command printed more than OUTPUT_CAP: stopped, its output not used."""

    code = "OUTPUT_TOO_LARGE"


ENOSPC = "No space left on device"  # strerror(ENOSPC), as every tool on the host says it (LC_ALL=C)


def disk_full(host: str, result: CommandResult) -> HostDiskFull | None:
    """A failed command that ran out of space on the host, named with what it said (the path, when the
    tool gives it); None for any other failure."""
    if result.ok:
        return None
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    if not any(ENOSPC in line for line in lines):
        return None
    said = [line for line in lines if ENOSPC in line or line.startswith("cannot write ")]  # ours name the path
    return HostDiskFull(
        host,
        f"no space left on the host's disk: {'; '.join(dict.fromkeys(said))[:400]}",
        "free space there (df -h on the host), then run again",
    )


@functools.cache
def _ssh_config() -> paramiko.SSHConfig:
    """~/.ssh/config and /etc/ssh/ssh_config as fabric reads them, parsed once per run (lookups do not
    change it)."""
    return fabric.Config().base_ssh_config


def identity_files(target: Target) -> list[str]:
    """The keys ~/.ssh/config names for this host (IdentityFile), when no key is given otherwise: fabric
    offers them, so they are held to OpenSSH's rule like any other."""
    if target.key_file:
        return []
    found = _ssh_config().lookup(target.address).get("identityfile", [])
    return [os.path.expanduser(path) for path in found if os.path.exists(os.path.expanduser(path))]


def _fabric_config() -> fabric.Config:
    """A configuration of its own for each connection (fabric's is not safe to share between threads: a
    connection made while another merges sees it empty), on the SSH configuration parsed once."""
    return fabric.Config(ssh_config=_ssh_config())


def connect(target: Target, through: Session | None = None) -> Session:
    """Open a verified, authenticated session (``through`` a jump host's), or raise the project's error
    saying why not."""
    connect_kwargs: dict[str, object] = {
        "banner_timeout": target.connect_timeout,
        "auth_timeout": target.connect_timeout,
        "channel_timeout": target.connect_timeout,
    }
    if target.key_file:
        connect_kwargs["key_filename"] = [os.path.expanduser(target.key_file)]
    if target.key_data:
        connect_kwargs["pkey"] = _private_key(target)
    elif target.key_passphrase:
        connect_kwargs["passphrase"] = target.key_passphrase
    if target.password is not None:
        connect_kwargs["password"] = target.password
        connect_kwargs["look_for_keys"] = False
    if target.compression:
        connect_kwargs["compress"] = True
    if not target.rsa_sha2:
        connect_kwargs["disabled_algorithms"] = {"pubkeys": ["rsa-sha2-256", "rsa-sha2-512"]}
    conn = fabric.Connection(
        target.address,
        user=target.user,
        port=target.port,
        connect_timeout=target.connect_timeout,
        connect_kwargs=connect_kwargs,
        config=_fabric_config(),
    )
    # The route is pyinstall's own (_route): fabric's would accept a jump host's key unverified.
    conn.gateway = None
    client = conn.client
    name = conn.host if conn.port == 22 else f"[{conn.host}]:{conn.port}"  # as paramiko looks it up
    trusted = client.get_host_keys()
    for path in _known_hosts_files(target):
        try:
            found = _KNOWN_HOSTS.parsed(path).lookup(name)
        except (OSError, paramiko.SSHException) as exc:
            raise Unreachable(target.name, f"cannot read known_hosts file {path}: {exc}", "fix or remove it") from None
        for keytype, key in (found or {}).items():
            trusted.add(name, keytype, key)
    user_files = ssh_config_known_hosts(target.address)[0] or [Path(os.devnull)]
    record_in = Path(target.known_hosts[0]).expanduser() if target.known_hosts else user_files[0]
    if strict_host_key_checking(target.address) in STRICT_OFF:
        target = dataclasses.replace(target, accept_new=True)  # host_key_checking=false's meaning, whoever says it
    client.set_missing_host_key_policy(_VerifyPolicy(target, record_in))
    for attempt in range(target.retries + 1):
        try:
            hops = _open(conn, target, through)
            break
        except Unreachable:
            if attempt == target.retries:
                raise
            time.sleep(min(2**attempt, 30))  # Ansible's back-off between ssh retries
    if target.keepalive:
        conn.transport.set_keepalive(target.keepalive)
    return Session(target, conn, hops)


def _private_key(target: Target) -> paramiko.PKey:
    """ansible_private_key: the key itself, in any format paramiko reads."""
    import io

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(target.key_data or ""), password=target.key_passphrase)
        except paramiko.PasswordRequiredException:
            raise AuthenticationFailed(target.name, "ansible_private_key is encrypted and no passphrase was given",
                                       "set ansible_private_key_passphrase") from None  # fmt: skip
        except (paramiko.SSHException, ValueError):
            continue
    raise AuthenticationFailed(target.name, "ansible_private_key is not a private key paramiko can read",
                               "give an OpenSSH or PEM private key (ed25519, ecdsa or rsa)")  # fmt: skip


def _route(conn: fabric.Connection, target: Target) -> tuple[object | None, list[Session]]:
    """How to reach the host: a ProxyCommand (its process as the socket), a ProxyJump (a channel through
    each jump host in turn, every one verified like any host), or directly (None). The variables' route
    first, else ~/.ssh/config's."""
    command = target.proxy_command or (None if target.proxy_jump else conn.ssh_config.get("proxycommand"))
    jump = target.proxy_jump or (None if target.proxy_command else conn.ssh_config.get("proxyjump"))
    if command and command.lower() != "none":
        expanded = _expand(command, conn)
        try:
            return paramiko.ProxyCommand(f"/bin/sh -c {shlex.quote('exec ' + expanded)}"), []
        except paramiko.ProxyCommandFailure as exc:
            raise Unreachable(target.name, f"ProxyCommand {expanded!r} did not start: {exc}") from None
    if not jump or jump.lower() == "none":
        return None, []
    hops: list[Session] = []
    try:
        for hop in jump.split(","):
            user, _, rest = hop.strip().rpartition("@")
            host, port = _split_address(rest)
            via = dataclasses.replace(
                target, name=f"{target.name} (jump host {hop.strip()})", address=host, port=port, user=user or None,
                password=None, become=False, proxy_command="none", proxy_jump=None, retries=0,
            )  # fmt: skip
            hops.append(connect(via, hops[-1] if hops else None))
        channel = hops[-1].channel_to(conn.host, conn.port, target)
    except BaseException:
        for hop in reversed(hops):
            hop.close()
        raise
    return channel, hops


def _split_address(text: str) -> tuple[str, int | None]:
    if text.startswith("[") and "]" in text:
        host, _, port = text[1:].partition("]")
        return host, int(port[1:]) if port.startswith(":") and port[1:].isdigit() else None
    host, _, port = text.partition(":")
    return host, int(port) if port.isdigit() else None


def _expand(command: str, conn: fabric.Connection) -> str:
    """ssh's tokens in a ProxyCommand: %h, %p, %r and %%."""
    tokens = {"h": conn.host, "p": str(conn.port), "r": conn.user or "", "%": "%"}
    out, i = [], 0
    while i < len(command):
        if command[i] == "%" and i + 1 < len(command) and command[i + 1] in tokens:
            out.append(tokens[command[i + 1]])
            i += 2
        else:
            out.append(command[i])
            i += 1
    return "".join(out)


def _open(conn: fabric.Connection, target: Target, through: Session | None = None) -> list[Session]:
    """Connect (or connect again) by the host's route, or ``through`` a jump host; returns the sessions of
    the jump hosts the connection goes through."""
    if through is not None:
        sock, hops = through.channel_to(conn.host, conn.port, target), []
    else:
        sock, hops = _route(conn, target)
    conn.connect_kwargs.pop("sock", None)
    if sock is not None:
        conn.connect_kwargs["sock"] = sock
    try:
        _connect(conn, target)
    except BaseException:
        for hop in reversed(hops):
            hop.close()
        raise
    return hops


def _connect(conn: fabric.Connection, target: Target) -> None:
    """Connect, the host key verified; paramiko's errors become the project's."""
    address = f"{conn.host}:{conn.port}"
    started = time.monotonic()
    try:
        conn.open()
    except (HostKeyUnknown, Unreachable):
        conn.close()
        raise
    except paramiko.BadHostKeyException as exc:
        conn.close()
        raise HostKeyChanged(
            target.name,
            f"HOST KEY CHANGED for {exc.hostname}: it offers {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"known_hosts has {fingerprint(exc.expected_key)}",
            "someone may be intercepting the connection, or the host was reinstalled; verify with its owner, "
            f"then remove the old entry ({_forget_command(exc.hostname, target)}); pyinstall never replaces a key",
        ) from None
    except paramiko.AuthenticationException as exc:
        conn.close()
        raise AuthenticationFailed(
            target.name,
            f"authentication failed for {conn.user}@{address}: {exc}",
            "check ansible_user and the key (ansible_ssh_private_key_file, ssh-agent) or password (-k)",
        ) from None
    except socket.gaierror as exc:
        conn.close()
        raise Unreachable(
            target.name,
            f"cannot resolve {target.address!r}: {exc.strerror}",
            "check the name, or set ansible_host to its address",
        ) from None
    except (TimeoutError, socket.timeout):
        conn.close()
        raise Unreachable(
            target.name,
            f"timed out connecting to {address} after {target.connect_timeout:g}s",
            "is the host up, and port open from here? (--timeout raises the limit)",
        ) from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        conn.close()
        reasons = "; ".join(sorted({e.strerror or str(e) for e in exc.errors.values()}))
        raise Unreachable(
            target.name, f"cannot connect to {address}: {reasons}", "is sshd running and the port right?"
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        conn.close()
        if time.monotonic() - started >= target.connect_timeout * 0.9:  # paramiko words it "No existing session"
            raise Unreachable(
                target.name,
                f"timed out after {target.connect_timeout:g}s waiting for the SSH server at {address} to answer",
                "something accepts connections there but does not speak SSH, or the host is overloaded",
            ) from None
        raise Unreachable(
            target.name, f"SSH to {address} failed: {exc or type(exc).__name__}", "check sshd on the host"
        ) from None


def as_bool(value: object, what: str) -> bool:
    """Ansible's booleans (installer.truth); unset (YAML's ~, an empty value) is false."""
    if value is None or value == "":
        return False
    parsed = boolean(value)
    if parsed is None:
        raise ValueError(f"{what}={value!r} is not a boolean (use true or false)")
    return parsed


def target_from_vars(name: str, hostvars: dict[str, object], **overrides: object) -> Target:
    """A Target from a host's merged variables (Ansible's names, installer.ansible_vars; the settings
    that stand for variables already merged in, installer.settings.variables). ``overrides``: passwords
    and host keys from the command line."""
    get = functools.partial(ansible_vars.value, hostvars)
    port, known, timeout = get("port"), hostvars.get("pyinstall_known_hosts_file"), get("timeout")
    args = ansible_vars.ssh_args(hostvars)
    checking = get("host_key_checking")
    values: dict[str, object] = {
        "name": name,
        "address": str(get("address", name)),
        "port": int(str(port).strip()) if port is not None else None,  # a port number: asked.parse said so
        "user": get("user"),
        "key_file": get("key_file"),
        "key_data": get("key_data"),
        "key_passphrase": get("key_passphrase"),
        "password": get("password"),
        "become": as_bool(get("become", False), "ansible_become"),
        "become_user": str(get("become_user", "root")),
        "become_password": get("become_password"),
        "become_method": str(get("become_method", "sudo")).rsplit(".", 1)[-1],
        "become_exe": get("become_exe"),
        "su_prompts": tuple(get("su_prompts") or ()),
        "shell": str(get("shell", "sh")),
        "known_hosts": tuple(str(k) for k in (known if isinstance(known, list) else [known]) if k)
        + tuple(args.known_hosts),
        "accept_new": (checking is not None and not as_bool(checking, "ansible_host_key_checking"))
        or (args.strict or "yes") in STRICT_OFF,
        "proxy_command": get("proxy_command") or args.proxy_command,
        "proxy_jump": args.proxy_jump,
        "retries": int(str(get("retries", 0))) or max(0, (args.attempts or 1) - 1),
        "compression": bool(args.compression),
        "keepalive": args.keepalive or 0,
        "rsa_sha2": as_bool(get("rsa_sha2", True), "ansible_paramiko_use_rsa_sha2_algorithms"),
    }
    if timeout is not None or args.connect_timeout:
        values["connect_timeout"] = float(str(timeout)) if timeout is not None else float(args.connect_timeout or 0)
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "known_hosts":
            values[key] = values[key] + value  # type: ignore[operator]
        elif key == "accept_new":
            values[key] = bool(value) or values[key]  # off wherever it is said: one rule (accept-new)
        else:
            values[key] = value
    for key in ("user", "key_file", "key_data", "key_passphrase", "password", "become_password", "become_exe",
                "proxy_command"):  # fmt: skip
        if values[key] is not None:
            values[key] = str(values[key])
    return Target(**values)  # type: ignore[arg-type]
