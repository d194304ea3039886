"""Ansible Vault: values and files encrypted by ``ansible-vault`` (formats 1.1 and 1.2), and the secrets
that open them, found where Ansible finds them.

    --vault-id LABEL@SOURCE, --vault-password-file, --ask-vault-pass, ANSIBLE_VAULT_*, the config
        ─▶ Vault(secrets) ─▶ decrypt(vaulttext, where) ─▶ the plaintext, registered as a secret

The cipher is the cryptography library's: PBKDF2-HMAC-SHA256 (10 000 rounds) over the salt gives the
AES-256 key, the HMAC key and the CTR counter; the HMAC-SHA256 of the ciphertext is verified before a byte
is decrypted. Errors name the file, line and vault id, never the ciphertext or the plaintext.
"""

from __future__ import annotations

import binascii
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from installer import events
from installer.errors import InventoryError, UsageError

HEADER = "$ANSIBLE_VAULT;"
DEFAULT_ID = "default"
PROMPT = "prompt"
SOURCES_HINT = "give --vault-password-file FILE, --vault-id LABEL@FILE or --ask-vault-pass"
SHORTEST_MASKED = 3  # a shorter plaintext ("22", "no") would mask the same characters everywhere in a log


class Unsafe(str):
    """A value tagged ``!unsafe`` (or ``__ansible_unsafe``): kept literal, never templated."""


@dataclass(frozen=True)
class Vaulted:
    """A ``!vault`` value as written, decrypted only by a Vault."""

    vaulttext: str = field(repr=False)
    where: str  # file:line, for messages

    @property
    def vault_id(self) -> str:
        header = self.vaulttext.lstrip().split("\n", 1)[0].split(";")
        return header[3].strip() if len(header) > 3 else DEFAULT_ID

    def as_ansible_list(self) -> dict[str, str]:
        """How ``ansible-inventory --list`` prints it."""
        return {"__ansible_vault": self.vaulttext}


def is_vaulted(text: str | bytes) -> bool:
    head = text[: len(HEADER)]
    return (head.decode("ascii", "replace") if isinstance(head, bytes) else head) == HEADER


@dataclass
class Vault:
    """The vault secrets of a run: (vault id, password) in the order given."""

    secrets: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    # A value in group_vars/all reaches every host: PBKDF2's 10 000 rounds are paid once per vaulttext.
    _opened: dict[str, str] = field(default_factory=dict, repr=False)

    def decrypt(self, vaulttext: str, where: str) -> str:
        """The plaintext of ``vaulttext``; the secrets of its own vault id are tried first, then the others,
        as Ansible tries them."""
        if vaulttext not in self._opened:
            self._opened[vaulttext] = self._decrypt(vaulttext, where)
        return self._opened[vaulttext]

    def _decrypt(self, vaulttext: str, where: str) -> str:
        vault_id, payload = _envelope(vaulttext, where)
        if not self.secrets:
            raise InventoryError(where, None, f"encrypted with ansible-vault (vault id {vault_id!r}) and no vault "
                                              "password was given", SOURCES_HINT)  # fmt: skip
        salt, mac, ciphertext = payload
        ordered = [s for s in self.secrets if s[0] == vault_id] + [s for s in self.secrets if s[0] != vault_id]
        for _, password in ordered:
            plaintext = _open(password, salt, mac, ciphertext)
            if plaintext is not None:
                try:
                    text = plaintext.decode("utf-8")
                except UnicodeDecodeError:
                    raise InventoryError(where, None, "the vaulted value is not UTF-8 text") from None
                return text
        given = ", ".join(dict.fromkeys(label for label, _ in self.secrets))
        raise InventoryError(
            where,
            None,
            f"no vault password given opens it (its vault id: {vault_id!r}; passwords given for: {given})",
            "check the password file or the --vault-id for that label",
        )

    def value(self, vaulted: Vaulted) -> str:
        """A vaulted value's plaintext, from now on masked in every log, report and record."""
        text = self.decrypt(vaulted.vaulttext, vaulted.where)
        if len(text) >= SHORTEST_MASKED:
            events.redact(text)
        return text


def _envelope(vaulttext: str, where: str) -> tuple[str, tuple[bytes, bytes, bytes]]:
    lines = vaulttext.strip().splitlines()
    header = lines[0].split(";") if lines else []
    if len(header) < 3 or header[0] != HEADER.rstrip(";") or header[1] not in ("1.1", "1.2"):
        raise InventoryError(where, None, "not an ansible-vault text: its first line must be "
                                          "$ANSIBLE_VAULT;1.1;AES256 or $ANSIBLE_VAULT;1.2;AES256;LABEL")  # fmt: skip
    if header[2].strip() != "AES256":
        raise InventoryError(where, None, f"vault cipher {header[2].strip()!r} is not AES256, the only one "
                                          "ansible-vault writes")  # fmt: skip
    vault_id = header[3].strip() if header[1] == "1.2" and len(header) > 3 else DEFAULT_ID
    try:
        inner = binascii.unhexlify("".join(line.strip() for line in lines[1:]))
        salt, mac, ciphertext = (binascii.unhexlify(part) for part in inner.split(b"\n"))
    except (binascii.Error, ValueError):
        raise InventoryError(where, None, f"the vaulted text (vault id {vault_id!r}) is damaged: not the "
                                          "hexadecimal ansible-vault writes", "encrypt it again") from None  # fmt: skip
    return vault_id, (salt, mac, ciphertext)


def _open(password: bytes, salt: bytes, mac: bytes, ciphertext: bytes) -> bytes | None:
    """The plaintext, or None when the HMAC says this password is not the one."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, hmac, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=10000).derive(password)
    key, mac_key, counter = derived[:32], derived[32:64], derived[64:]
    check = hmac.HMAC(mac_key, hashes.SHA256())
    check.update(ciphertext)
    try:
        check.verify(mac)
    except InvalidSignature:
        return None
    decryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        return None


# ---------------------------------------------------------------- where the secrets come from


@dataclass(frozen=True)
class Identity:
    label: str
    source: str  # a file, an executable, or "prompt"
    given_by: str  # the option or setting that named it, for messages


def parse_identity(text: str, given_by: str = "--vault-id") -> Identity:
    """``LABEL@SOURCE`` (or ``SOURCE``, labelled default), as --vault-id takes it."""
    label, at, source = text.strip().rpartition("@")
    if (at and not label) or not source:
        raise UsageError(f"{given_by} {text!r}: give LABEL@FILE, LABEL@prompt, or a FILE", SOURCES_HINT)
    return Identity(label or DEFAULT_ID, source, given_by)


def identities(
    identity_list: Iterable[str] = (),
    vault_ids: Iterable[str] = (),
    password_files: Iterable[str] = (),
    ask: bool = False,
) -> list[Identity]:
    """Every vault password asked for, in Ansible's order: the identity list (vault_identity_list), then
    --vault-id, then the password files, then --ask-vault-pass."""
    out = [parse_identity(i, "vault_identity_list") for i in identity_list]
    out += [parse_identity(i) for i in vault_ids]
    for path in password_files:
        if not path.strip():
            raise UsageError("--vault-password-file: an empty path", SOURCES_HINT)
        out.append(Identity(DEFAULT_ID, path, "--vault-password-file"))
    if ask:
        out.append(Identity(DEFAULT_ID, PROMPT, "--ask-vault-pass"))
    first: dict[tuple[str, str], Identity] = {}
    for identity in out:
        first.setdefault((identity.label, identity.source), identity)
    return list(first.values())


def load_secrets(asked: Iterable[Identity], prompt: Callable[[str], str] | None = None) -> Vault:
    """Read each secret: ``prompt`` asks on the terminal, an executable is run (``-client`` scripts with
    ``--vault-id LABEL``), any other file gives its content, whitespace stripped at both ends."""
    secrets = []
    for identity in asked:
        label, source, given_by = identity.label, identity.source, identity.given_by
        if source == PROMPT:
            if prompt is None:
                raise UsageError(f"{given_by}: a vault password is to be asked and there is no terminal", SOURCES_HINT)
            password = prompt(f"Vault password ({label}): " if label != DEFAULT_ID else "Vault password: ")
            secrets.append((label, password.encode()))
            continue
        path = Path(source).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            data = _run(path, label, given_by)
        else:
            try:
                data = path.read_bytes().strip()
            except OSError as exc:
                raise UsageError(f"{given_by} {source}: {exc.strerror or exc}", SOURCES_HINT) from None
        if not data:
            raise UsageError(f"{given_by} {source}: the password is empty", "put the password on its first line")
        secrets.append((label, data))
    return Vault(secrets)


def _run(path: Path, label: str, given_by: str) -> bytes:
    client = path.stem.endswith("-client") or path.name.endswith("-client")
    argv = [str(path), *(["--vault-id", label] if client else [])]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{given_by} {path}: {exc}", "the script must print the password and exit") from None
    if done.returncode:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"{given_by} {path} exited {done.returncode}"
                         f"{': ' + said[-1] if said else ''}", "run it by hand to see why")  # fmt: skip
    return done.stdout.strip(b"\r\n")
