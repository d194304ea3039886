"""Host facts: ONE remote shell script per host, parsed by pure functions.

    runtime/*.yml ─▶ script() ─▶ (one `sh -c` round trip) ─▶ sections by marker ─▶ parse_<section>() ─▶ Facts

The script needs nothing but a POSIX shell and the base tools of CentOS 6/7. Each section's parser is
a pure function of its text (tests: tests/facts/<section>/<case>.txt with the expected JSON beside it).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import shlex
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import distro

from installer import daytwo, docker_info, platforms, yum

MARKER = "@@pyinstall-section:"
TIMED_OUT = (124, 137)  # timeout(1)'s exit status: the command stopped, or killed once it would not
UNIFIED = "/sys/fs/cgroup"  # where a cgroup v2 host mounts its one hierarchy
RELEASE_FILES = ("/etc/os-release", "/etc/redhat-release", "/etc/centos-release", "/etc/system-release")


def script(
    provision: bool = False, users: tuple[str, ...] = (), sysctls: tuple[str, ...] = (), images: bool = False
) -> str:
    """The facts script: preflight's, or provision's (which adds the services, `docker info`, the
    repository files, jobs and bundles). What it looks at comes from the platform definitions: the
    packages, configuration files, lock files and kernel options of every platform; and from the host's
    own variables, ``users`` (docker_users: do they exist) and ``sysctls`` (docker_sysctls: their values), and
    ``images``: list the daemon's images (an offline bundle carries some)."""
    inputs = (
        f"pyinstall_users={shlex.quote(' '.join(users))}; pyinstall_sysctls={shlex.quote(' '.join(sysctls))}; "
        f"pyinstall_images={'1' if images else ''}\n"
    )
    return buffered(inputs + _scripts()[provision])


def docker_script() -> str:
    """Only the docker command and what `docker info` answers: the sections every command that asks "is
    Docker there, does its daemon answer" reads (Facts.daemon)."""
    return buffered(_PRELUDE.format(marker=MARKER) + DOCKER_SECTIONS + END)


def buffered(script: str) -> str:
    """``script`` with its whole output sent in one write at its end (dd gathers up to 1 MB before it
    writes; cat passes it on as it comes should dd be missing). Written as it comes, a facts script's few
    kilobytes left the host in about fifty SSH packets, each a wake-up of two controller threads: on 48
    hosts half the controller's CPU (682 ms against 351, and a tenth of the wall time)."""
    return f"{{\n{script}\n}} | {{ dd obs=1048576 2>/dev/null || cat; }}\n"


@functools.cache
def _scripts() -> tuple[str, str]:
    facts = (_PRELUDE + _FACTS_SECTIONS).format(
        marker=MARKER,
        release_files=" ".join(RELEASE_FILES),
        packages=" ".join(platforms.watched_packages()),
        kernel_options="|".join(platforms.watched_kernel_options()),
        lock_files=" ".join(platforms.watched_lock_files()),
        config_files=" ".join(platforms.watched_config_files()),
        day_two_files=" ".join(daytwo.WATCHED),
        day_two_secrets=" ".join(daytwo.WATCHED_SECRETS),
    )
    return facts + END, facts + PROVISION_SECTIONS + DOCKER_SECTIONS + END


# Every command's stderr goes to /dev/null or into its section. What is filled in comes from the platform
# definitions, each value checked when it was loaded (package names, plain paths, option names).
_PRELUDE = r"""
LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
section() {{ printf '\n{marker}%s\n' "$1"; }}
# Small kernel and /etc files are read by the shell itself: a process per file was most of the script's cost.
prefix() {{ while IFS= read -r l || [ -n "$l" ]; do printf '%s%s\n' "$1" "$l"; done; }}
# Files capped at 64 KB each, one head for all of them (its headers: ==> PATH <==); paths without spaces.
dump() {{ n=; for f in "$@"; do [ -f "$f" ] && n="$n $f"; done; [ -z "$n" ] || head -v -c 65536 $n; }}
sums() {{ for f in "$@"; do [ -f "$f" ] || continue; s=$(sha256sum < "$f"); printf '== %s %s\n' "$f" "${{s%% *}}"
          head -c 65536 "$f"; echo; done; }}
# A secret's checksum only: a password or a key never leaves the host, even to be compared.
digests() {{ for f in "$@"; do [ -f "$f" ] || continue; s=$(sha256sum < "$f")
             printf '== %s %s\n' "$f" "${{s%% *}}"; done; }}
"""
_FACTS_SECTIONS = r"""
# One uname for every field (its output order is fixed: node, release, version with spaces, machine).
u=$(uname -n -r -v -m); rest=${{u#* }}; release=${{rest%% *}}; v=${{rest#* }}

section uname
printf '%s\n' "${{u%% *}}" "$release" "${{u##* }}" "${{v% *}}"; getconf LONG_BIT 2>/dev/null || echo

section release
dump {release_files}

section packages
rpm -q --qf '%{{NAME}}\t%{{EPOCH}}:%{{VERSION}}-%{{RELEASE}}\t%{{ARCH}}\n' {packages} 2>/dev/null

section cgroups
while read -r d m t o _; do case $t in cgroup|cgroup2) echo "$d $m $t $o" ;; esac; done 2>/dev/null < /proc/mounts

section cgroup2
# A unified hierarchy's controllers (cgroup v2: EL9 boots it, EL8 can); none on EL6 and EL7.
while read -r d m t _; do
    [ "$t" = cgroup2 ] && [ -f "$m/cgroup.controllers" ] && {{ read -r c < "$m/cgroup.controllers"; echo "$m: $c"; }}
done 2>/dev/null < /proc/mounts

section cgroup_subsystems
# The controllers the kernel offers, mounted or not (what cgconfig can mount; /proc/cgroups, v1).
{{ read -r _; while read -r n _ _ e; do [ "$e" = 1 ] && echo "$n"; done; }} 2>/dev/null < /proc/cgroups

section filesystems
prefix '' 2>/dev/null < /proc/filesystems

section kernel_config
for f in /boot/config-$release /proc/config.gz /usr/src/linux-$release/.config /usr/src/linux/.config; do
    [ -f "$f" ] || continue
    echo "== $f"
    options='^(# )?CONFIG_({kernel_options})[= ]'
    case "$f" in *.gz) zcat "$f" 2>/dev/null | grep -E "$options" ;; *) grep -E "$options" "$f" ;; esac
    break
done

section device_mapper
# Read-only: dmsetup and losetup open /dev/mapper/control and /dev/loop-control, which would load the
# modules; they are asked only once the driver is there.
dm=; for f in /proc/devices /proc/misc; do
    while read -r _ n; do [ "$n" = device-mapper ] && dm=1; done < $f
done 2>/dev/null
if [ -n "$dm" ]; then
    echo "registered: device-mapper"
    if command -v dmsetup >/dev/null 2>&1; then
        dmsetup targets 2>/dev/null | prefix 'target: '
        # Each device and its target type (a thin pool asked for must be one): NAME: START LENGTH TARGET ...
        dmsetup table 2>/dev/null | while read -r n _ _ t _; do case $n in *:) echo "device: ${{n%:}} $t" ;; esac; done
    fi
fi
while read -r m rest; do
    case $m in dm_mod|dm_thin_pool) echo "loaded: $m $rest" ;; esac
done 2>/dev/null < /proc/modules
for f in /lib/modules/$release/kernel/drivers/md/dm-mod.ko* /lib/modules/$release/kernel/drivers/md/dm-thin-pool.ko*; do
    [ -e "$f" ] && echo "module: $f"
done
grep -oE '/dm-(mod|thin-pool)\.ko' /lib/modules/$release/modules.builtin 2>/dev/null | prefix 'builtin: '

section loop
n=0; for f in /dev/loop[0-9]*; do [ -e "$f" ] && n=$((n + 1)); done; echo "count: $n"
if [ -d /sys/module/loop ]; then free=$(losetup -f 2>/dev/null) && echo "free: $free"; fi
[ -c /dev/loop-control ] && echo "control: /dev/loop-control"

section block_devices
# A disk given to devicemapper (dm.directlvm_device) must be there, unmounted and blank, or already Docker's.
while read -r _ _ _ n; do case $n in ''|name) ;; *) echo "device: /dev/$n" ;; esac; done 2>/dev/null < /proc/partitions
# blkid reads its cache, and probes what is not in it: bounded (a drive without media can stall it).
command -v blkid >/dev/null 2>&1 && timeout 10 blkid 2>/dev/null | prefix 'signature: '
while read -r d m _; do case $d in /dev/*) echo "mounted: $d $m" ;; esac; done 2>/dev/null < /proc/mounts

section docker_fs
[ -L /var/lib/docker ] && echo "link: $(readlink /var/lib/docker)"
p=/var/lib/docker
while [ ! -e "$p" ]; do p=${{p%/*}}; [ -n "$p" ] || p=/; done
echo "path: $p"
df -PTk "$p" 2>/dev/null | {{
    read -r _; read -r line || exit 0
    echo "df: $line"
    set -- $line
    if [ "$2" = xfs ] && command -v xfs_info >/dev/null 2>&1; then
        xfs_info "$7" 2>/dev/null | grep -o 'ftype=[0-9]' | prefix 'xfs: '
    fi
}}
for e in /var/lib/docker/* /var/lib/docker/.[!.]*; do [ -e "$e" ] && echo "entry: ${{e##*/}}"; done

section yum_lock
for f in {lock_files}; do
    [ -f "$f" ] || continue
    read -r pid < "$f"
    echo "pidfile: $f"
    echo "pid: $pid"
    case "$pid" in *[!0-9]*|'') echo "alive: no" ;; *)
        if [ -d "/proc/$pid" ]; then
            echo "alive: yes"
            printf 'cmd: '; tr '\000' ' ' < "/proc/$pid/cmdline" 2>/dev/null; echo
        else echo "alive: no"; fi ;;
    esac
    break
done

section yum_config
# A digest of what decides yum's answers (configuration, variables, plugins, repositories, a proxy from
# the environment): hosts that share it share one version query. Only the digest leaves the host.
{{ sha256sum /etc/yum.conf /etc/yum/vars/* /etc/yum/pluginconf.d/*.conf /etc/yum.repos.d/*.repo \
    /etc/dnf/dnf.conf /etc/dnf/vars/* 2>/dev/null
  printf '%s\n' "${{http_proxy-}}" "${{https_proxy-}}" "${{ftp_proxy-}}" "${{no_proxy-}}"; }} | sha256sum

section user
who=$(id); uid=${{who#uid=}}; uid=${{uid%%[!0-9]*}}; name=
case $who in "uid=$uid("*) name=${{who#*\(}}; name=${{name%%\)*}} ;; esac
echo "uid: $uid"; echo "name: $name"; echo "login: ${{SUDO_USER:-$name}}"
grep -hE '^[[:space:]]*Defaults.*requiretty' /etc/sudoers /etc/sudoers.d/* 2>/dev/null | prefix 'requiretty: '

section selinux
command -v getenforce >/dev/null 2>&1 && echo "mode: $(getenforce 2>/dev/null)"
[ -f /etc/selinux/config ] && while IFS= read -r l || [ -n "$l" ]; do
    case $l in SELINUX=*) echo "config: $l" ;; esac
done < /etc/selinux/config

section clock
date -u +%s

section firewall
# What Docker's networking meets: firewalld (running or not, its backend) and which iptables it drives.
if [ -x /usr/sbin/firewalld ]; then
    if pgrep -x firewalld >/dev/null 2>&1; then echo "firewalld: running"; else echo "firewalld: stopped"; fi
    [ -f /etc/firewalld/firewalld.conf ] && while IFS= read -r l || [ -n "$l" ]; do
        case $l in FirewallBackend=*) echo "backend: ${{l#FirewallBackend=}}" ;; esac
    done < /etc/firewalld/firewalld.conf
fi
command -v iptables >/dev/null 2>&1 && iptables -V 2>/dev/null | prefix 'iptables: '

section podman
# Podman's containers (root's store and every user's rootless one), to refuse removing podman while it has
# any: the stores' files as they are (capped), read on the controller as untrusted as any host's bytes.
if command -v podman >/dev/null 2>&1; then
    store() {{ for f in "$2"/containers.json "$2"/volatile-containers.json; do [ -s "$f" ] || continue
               echo "store: $1 $f"; head -c 262144 "$f" | base64 | prefix 'b64: '; done; }}
    store root /var/lib/containers/storage/overlay-containers
    while IFS=: read -r user _ _ _ _ home _; do
        case $home in /*/*) store "$user" "$home/.local/share/containers/storage/overlay-containers" ;; esac
    done < /etc/passwd
fi

section docker_config
sums {config_files}

section day_two
for u in $pyinstall_users; do id -u "$u" >/dev/null 2>&1 && echo "user: $u"; done
g=$(getent group docker 2>/dev/null) && echo "group: $g"
for k in $pyinstall_sysctls; do
    p=/proc/sys; o=$IFS; IFS=.; for c in $k; do p=$p/$c; done; IFS=$o
    if [ -r "$p" ]; then read -r v < "$p"; echo "sysctl: $k $v"; else echo "sysctl: $k"; fi
done 2>/dev/null
sums {day_two_files}
digests {day_two_secrets}

section ledger
# What pyinstall created here (check needs it too: a file it did not write is the host's own).
for d in /var/lib/pyinstall /var/cache/pyinstall; do [ -d "$d" ] && echo "state: $d"; done
[ -f /var/lib/pyinstall/ledger ] && head -c 65536 /var/lib/pyinstall/ledger | prefix 'entry: '

section service_manager
read -r pid1 < /proc/1/comm 2>/dev/null; echo "pid1: $pid1"
for t in systemctl service chkconfig; do command -v $t >/dev/null 2>&1 && echo "tool: $t"; done
[ -d /run/systemd/system ] && echo "booted: systemd"

"""

# What provisioning needs beside the preflight facts, in the same single round trip.
PROVISION_SECTIONS = r"""
section services
if command -v systemctl >/dev/null 2>&1; then
    systemctl show -p LoadState -p UnitFileState -p ActiveState docker 2>/dev/null | prefix 'docker '
else
    for s in docker cgconfig; do
        [ -f "/etc/rc.d/init.d/$s" ] || continue
        chkconfig "$s" >/dev/null 2>&1 && echo "$s enabled: yes" || echo "$s enabled: no"
        service "$s" status >/dev/null 2>&1 && echo "$s active: yes" || echo "$s active: no"
    done
fi

section repo_files
sums /etc/yum.repos.d/pyinstall-*.repo

section jobs
boot=; read -r boot 2>/dev/null < /proc/sys/kernel/random/boot_id
for f in /var/lib/pyinstall/jobs/*.pid; do
    [ -f "$f" ] || continue; j=${f%.pid}; read -r p < "$f"; alive=
    [ -d "/proc/$p" ] && { [ ! -f "$j.boot" ] || [ "$(cat "$j.boot")" = "$boot" ]; } && alive=1
    if [ -f "$j.rc" ]; then echo "done: $j.log $(cat "$j.rc")"
    elif [ -n "$alive" ]; then echo "running: $j.log $p"
    else echo "lost: $j.log $p"; fi
done

section bundle
for f in /var/cache/pyinstall/bundle/*/.pyinstall-sums; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
"""
# Is there a docker command, and what does `docker info` answer (124: it did not within 20 s, a hung daemon;
# 137: a client that would not stop either, killed 5 s later).
DOCKER_SECTIONS = r"""
section docker_info
rc=; command -v docker >/dev/null 2>&1 && { timeout -k 5 20 docker info 2>&1; rc=$?; }

section docker
[ -n "$rc" ] && echo "command: yes" && echo "rc: $rc"
[ -n "${pyinstall_images:-}" ] && [ "$rc" = 0 ] && timeout 20 docker images -q --no-trunc 2>/dev/null | prefix 'image: '
"""
END = "\nsection end\n"


AVAILABLE_RC = "@@pyinstall-available-rc:"
# [EPOCH:]VERSION-RELEASE in RPM's alphabet: what one host lists may be used for others of its kind.
_EVR = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+")


def available_script(package: str, repo_files: dict[str, str], lock_wait: int, locks: tuple[str, ...]) -> str:
    """Which versions of ``package`` the repositories offer, asked before anything changes: the
    repository files provision would write go to a temporary directory that yum reads instead of
    /etc/yum.repos.d (none given: the host's own repositories, e.g. EL7's extras)."""
    lines = ["LC_ALL=C; export LC_ALL"]
    options = ""
    if repo_files:
        lines.append("d=$(mktemp -d /tmp/pyinstall-repos.XXXXXX) || exit 70; trap 'rm -rf \"$d\"' EXIT")
        for name, content in sorted(repo_files.items()):
            data = base64.b64encode(content.encode()).decode()
            path = f'"$d"/{shlex.quote(name)}'
            # A write that fails (a full /tmp) stops the query, naming the file: never an empty answer.
            failed = f'{{ echo "cannot write "{path} >&2; exit 73; }}'
            lines.append(f"printf %s {shlex.quote(data)} | base64 -d > {path} || {failed}")
        options = '--setopt=reposdir="$d"'
    query = yum.command(
        "list", package, lock_wait=lock_wait, locks=locks, options=f"-q {options} --showduplicates".strip()
    )
    # Through a pipe: yum on a terminal (sudo's pty) would colour names and draw progress bars.
    lines.append(f"({query}; rc=$?; echo; echo {AVAILABLE_RC}$rc) 2>&1 | cat")
    return "\n".join(lines) + "\n"


def parse_available(text: str, package: str) -> tuple[list[str] | None, str]:
    """``yum list`` output -> (the EVRs listed for ``package``, ""), or (None, why) when yum failed."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\([A-Z0-9]|\r", "", text)  # any terminal styling left
    body, _, rc = text.rpartition(AVAILABLE_RC)
    status = rc.strip().splitlines()[0].strip() if rc.strip() else ""
    tokens = body.split()  # NAME.ARCH EVR REPO, possibly wrapped over two lines
    prefix = package + "."
    evrs = [
        evr
        for t, evr in zip(tokens, tokens[1:])
        if t.startswith(prefix) and "." not in t[len(prefix) :] and _EVR.fullmatch(evr)
    ]
    if status == "0" or evrs:
        return sorted(set(evrs)), ""
    if "No matching Packages" in body:  # yum's and dnf's words when nothing matches
        return [], ""
    said = [line.strip() for line in body.splitlines() if line.strip()][-3:]
    return None, " ".join(said) or f"yum exited with status {status or 'unknown'}"


# ---------------------------------------------------------------- the facts


@dataclass
class Facts:
    hostname: str = ""
    kernel_release: str = ""
    kernel_version: str = ""
    arch: str = ""
    long_bit: int | None = None
    distro_id: str = ""  # distro's id: centos, rhel, scientific, ol, ...
    distro_name: str = ""
    distro_version: str = ""  # "6.10", "7.9.2009"
    distro_like: str = ""
    release_text: str = ""  # the first line of /etc/redhat-release (or os-release's PRETTY_NAME)
    release_files: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # name -> [epoch:]version-release.arch
    cgroup_mounts: dict[str, str] = field(default_factory=dict)  # controller -> mount point (v1; cgroup2 too)
    cgroup2: dict[str, list[str]] = field(default_factory=dict)  # cgroup2 mount point -> its controllers
    cgroup_subsystems: list[str] = field(default_factory=list)  # the controllers the kernel offers (v1)
    block_devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> signature, mount point
    filesystems: list[str] = field(default_factory=list)
    kernel_config_path: str | None = None
    kernel_config: dict[str, str] = field(default_factory=dict)  # option -> y | m | n
    device_mapper: dict[str, Any] = field(default_factory=dict)
    loop: dict[str, Any] = field(default_factory=dict)
    docker_fs: dict[str, Any] = field(default_factory=dict)
    docker_store_entries: list[str] = field(default_factory=list)
    yum_lock: dict[str, Any] | None = None
    podman_containers: dict[str, list[str]] = field(default_factory=dict)  # owner -> names (root's: "root")
    firewall: dict[str, str] = field(default_factory=dict)  # firewalld, firewalld_backend, iptables
    yum_config: str = ""  # a digest of yum's configuration and repositories ("": unknown)
    user: dict[str, Any] = field(default_factory=dict)
    selinux: str | None = None
    remote_time: int | None = None
    clock_skew: float | None = None  # remote - local, seconds (set by the gatherer)
    docker_config: dict[str, str] = field(default_factory=dict)  # path -> content
    # Day two (installer.daytwo): its files (a secret's checksum only, in file_sums), the docker_users that
    # exist, the docker group's members (None: no such group) and the docker_sysctls' values (None: no such key).
    day_two_files: dict[str, str] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    docker_group: list[str] | None = None
    sysctls: dict[str, str | None] = field(default_factory=dict)
    service_manager: str = ""  # systemd | sysv
    services: dict[str, dict[str, bool]] = field(default_factory=dict)  # provision only
    docker_command: bool | None = None  # provision only: a docker command is there (None: not asked)
    docker_info: str | None = None  # provision only: `docker info` as printed, when docker exists
    docker_info_rc: int | None = None  # its exit status (124: no answer within 20 s)
    docker_images: list[str] = field(default_factory=list)  # provision only, with a bundle's images: their ids
    repo_files: dict[str, str] = field(default_factory=dict)  # provision only
    file_sums: dict[str, str] = field(default_factory=dict)  # sha256 of every file dumped above
    bundle_sums: dict[str, dict[str, str]] = field(default_factory=dict)  # platform -> {file: sha256} verified
    jobs: list[dict[str, Any]] = field(default_factory=list)  # pyinstall's detached transactions left on the host
    # What pyinstall created on the host by its ledger (kind -> values: file, package, dir),
    # and its own directories there; untrusted, like every byte a host sends: checked where used
    ledger: dict[str, list[str]] = field(default_factory=dict)
    state_dirs: list[str] = field(default_factory=list)
    # The runtime package's versions its repositories (or the offline bundle) offer: None when not asked
    # (the host already runs the version pinned); available_error when the repositories could not be read.
    available: list[str] | None = None
    available_error: str = ""
    available_from: str = ""  # the host whose yum answered for this one (same configuration), if another
    missing_sections: list[str] = field(default_factory=list)
    migration: Any = None  # an installer.migration.State: asked with --migrate-storage / --purge-old-storage

    def installed(self, package: str) -> str | None:
        """``version-release`` of an installed package: no epoch (yum pins name none, and an epoch says
        nothing of the Docker version), no arch."""
        evr = self.packages.get(package)
        if evr is None:
            return None
        version_release = evr.rsplit(".", 1)[0]
        return version_release.split(":", 1)[-1]

    def daemon(self) -> docker_info.DockerInfo | None:
        """What the daemon answers, as every command tells it: None where there is no docker command (not
        installed, or removed); a daemon that answers nothing (hung, stopped) has its errors said."""
        if not self.docker_command:
            return None
        info = docker_info.parse(self.docker_info or "")
        if self.docker_info_rc in TIMED_OUT:
            info.errors.append("`docker info` got no answer within 20 s: the daemon hangs")
        elif not info.reachable and not info.errors:
            info.errors.append(f"`docker info` exited with status {self.docker_info_rc} and said nothing")
        return info

    def file_content(self, path: str) -> str | None:
        """A managed file's current text (for diffs), None when absent."""
        for files in (self.docker_config, self.repo_files, self.day_two_files):
            if path in files:
                return files[path]
        return None

    def has_file(self, path: str) -> bool:
        """Whether a managed file is there (a secret one's text is never read back: only its checksum)."""
        return path in self.file_sums or self.file_content(path) is not None

    @property
    def cgroup_version(self) -> int | None:
        """2 on a unified hierarchy (cgroup2 at /sys/fs/cgroup, no v1 controller), 1 where v1 controllers
        are mounted (a hybrid host too: Docker uses v1 there), None where nothing is mounted yet."""
        if UNIFIED in self.cgroup2 and not set(self.cgroup_mounts) - {"cgroup2"}:
            return 2
        return 1 if set(self.cgroup_mounts) - {"cgroup2"} else None

    @property
    def cgroup2_controllers(self) -> list[str]:
        """The controllers the unified hierarchy offers (empty unless cgroup v2)."""
        return self.cgroup2.get(UNIFIED, [])

    @property
    def major(self) -> int | None:
        head = self.distro_version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    @property
    def minor(self) -> int | None:
        parts = self.distro_version.split(".")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    def to_dict(self) -> dict[str, Any]:
        """Every field as is (they hold only JSON's types: dataclasses.asdict's deep copy was a third of
        `check`'s controller CPU on a fleet), but the yum digest: it covers repository files that may hold
        a password, so it stays on the controller."""
        out = {name: getattr(self, name) for name in _REPORTED}
        if self.migration is not None:
            out["migration"] = self.migration.to_dict()
        return out


_REPORTED = [f.name for f in fields(Facts) if f.name not in ("yum_config", "migration")]


# ---------------------------------------------------------------- pure parsers, one per section


def split_sections(output: str) -> dict[str, str]:
    """Section name -> its text. Output before the first marker (a login banner) is dropped."""
    sections: dict[str, str] = {}
    name = None
    lines: list[str] = []
    for line in output.replace("\r\n", "\n").split("\n"):
        if line.startswith(MARKER):
            if name is not None:
                sections[name] = "\n".join(lines).strip("\n")
            name, lines = line[len(MARKER) :].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = "\n".join(lines).strip("\n")
    return sections


def _fields(text: str) -> list[tuple[str, str]]:
    """``key: value`` lines, in order (keys may repeat)."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out.append((key.strip(), value.strip()))
    return out


def _dumped_files(text: str, sums: dict[str, str] | None = None) -> dict[str, str]:
    """``== PATH [SHA256]`` headers (or head's ``==> PATH <==``), each followed by the file's text;
    checksums go to ``sums``."""
    files: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("==> /") and line.endswith(" <=="):
            current = line[4:-4]
            files[current] = ""
        elif line.startswith("== /"):
            current, _, digest = line[3:].rpartition(" ")  # a path may hold spaces; a sha256 does not
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                current, digest = line[3:], ""
            files[current] = ""
            if sums is not None and digest:
                sums[current] = digest
        elif current is not None:
            files[current] += line + "\n"
    return {path: content.rstrip("\n") + "\n" if content.strip() else "" for path, content in files.items()}


def parse_uname(text: str) -> dict[str, Any]:
    lines = text.splitlines() + [""] * 5
    bits = lines[4].strip()
    return {
        "hostname": lines[0].strip(),
        "kernel_release": lines[1].strip(),
        "arch": lines[2].strip(),
        "kernel_version": lines[3].strip(),
        "long_bit": int(bits) if bits.isdigit() else None,
    }


def parse_release(text: str) -> dict[str, Any]:
    """Interpret the release files with the ``distro`` library, as it would read them on the host. A
    fleet's hosts mostly share their release files: each distinct set is read once per run."""
    found = _read_release(text)
    return {**found, "release_files": dict(found["release_files"])}


@functools.lru_cache(maxsize=64)
def _read_release(text: str) -> dict[str, Any]:
    files = _dumped_files(text)
    with tempfile.TemporaryDirectory(prefix="pyinstall-release-") as root:
        for path, content in files.items():
            local = Path(root, path.lstrip("/"))
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(content)
        info = distro.LinuxDistribution(root_dir=root, include_lsb=False, include_uname=False, include_oslevel=False)
        distro_id, name, version, like = info.id(), info.name(), info.version(best=True), info.like()
    release_line = next(
        # system-release names a rebuild (Oracle ships a Red Hat redhat-release beside it).
        (files[p].splitlines()[0] for p in RELEASE_FILES[:0:-1] if files.get(p, "").strip()),
        "",
    )
    if not release_line:
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', files.get("/etc/os-release", ""), re.M)
        release_line = pretty[1] if pretty else ""
    return {
        "distro_id": distro_id,
        "distro_name": name,
        "distro_version": version,
        "distro_like": like,
        "release_text": release_line.strip(),
        "release_files": files,
    }


def parse_packages(text: str) -> dict[str, str]:
    packages = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0]:  # rpm says "package X is not installed" on one field
            name, evr, arch = parts
            evr = evr[len("(none):") :] if evr.startswith("(none):") else evr
            packages[name] = f"{evr}.{arch}"
    return packages


def parse_cgroups(text: str) -> dict[str, str]:
    mounts: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mountpoint, fstype, options = parts[1], parts[2], parts[3].split(",")
        if fstype == "cgroup2":
            mounts.setdefault("cgroup2", mountpoint)
            continue
        for opt in options:
            name = opt[5:] if opt.startswith("name=") else opt
            if opt.startswith("name=") or opt in _CGROUP_CONTROLLERS:
                mounts.setdefault(name, mountpoint)
    return mounts


def parse_cgroup2(text: str) -> dict[str, list[str]]:
    """``MOUNT: CONTROLLER ...`` lines -> {mount point: [controllers]}."""
    mounts = {}
    for line in text.splitlines():
        mount, sep, controllers = line.partition(":")
        if sep and mount.startswith("/"):
            mounts[mount.strip()] = controllers.split()
    return mounts


_CGROUP_CONTROLLERS = {
    "cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "net_cls", "blkio", "perf_event", "hugetlb",
    "pids", "net_prio", "rdma",
}  # fmt: skip


def parse_filesystems(text: str) -> list[str]:
    return [line.split()[-1] for line in text.splitlines() if line.split()]


def parse_kernel_config(text: str) -> tuple[str | None, dict[str, str]]:
    path = None
    options: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("== "):
            path = line[3:].strip()
            continue
        unset = re.match(r"^# CONFIG_(\w+) is not set", line)
        if unset:
            options[unset[1]] = "n"
            continue
        match = re.match(r"^CONFIG_(\w+)=(.*)$", line)
        if match:
            options[match[1]] = match[2].strip('"')
    return path, options


def parse_device_mapper(text: str) -> dict[str, Any]:
    fields = _fields(text)
    loaded = [v.split()[0] for k, v in fields if k == "loaded"]
    modules = [Path(v).name.split(".ko")[0] for k, v in fields if k == "module"]
    builtin = [Path(v).name.split(".ko")[0] for k, v in fields if k == "builtin"]
    targets = [v.split()[0] for k, v in fields if k == "target" and v.split()]
    devices = dict(v.split(None, 1) for k, v in fields if k == "device" and len(v.split()) == 2)
    return {
        "in_kernel": any(k == "registered" for k, _ in fields),  # the driver registered: loaded or built in
        "loaded_modules": loaded,
        "available_modules": sorted(set(modules) | set(builtin)),
        "targets": targets,
        "devices": devices,  # device-mapper name -> its (first) target type: thin-pool, linear, ...
        "thin_pool": "thin-pool" in targets or "dm_thin_pool" in loaded or "dm-thin-pool" in modules + builtin,
    }


def parse_cgroup_subsystems(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_block_devices(text: str) -> dict[str, dict[str, Any]]:
    """``/dev/NAME`` -> {"signature": blkid's TYPE or None, "mounted": where, or None} for every block device
    the kernel lists (/proc/partitions), and any blkid names beside them (/dev/mapper/...)."""
    devices: dict[str, dict[str, Any]] = {}
    for key, value in _fields(text):
        if key == "device":
            devices.setdefault(value, {"signature": None, "mounted": None})
        elif key == "signature":
            path, _, tags = value.partition(":")  # /dev/sdb: UUID="..." TYPE="LVM2_member"
            kind = re.search(r'\bTYPE="([^"]*)"', tags)
            devices.setdefault(path, {"signature": None, "mounted": None})["signature"] = kind[1] if kind else None
        elif key == "mounted" and len(value.split()) == 2:
            path, where = value.split()
            devices.setdefault(path, {"signature": None, "mounted": None})["mounted"] = where
    return devices


def parse_loop(text: str) -> dict[str, Any]:
    fields = dict(_fields(text))
    count = fields.get("count", "0")
    return {
        "devices": int(count) if count.isdigit() else 0,
        "free": fields.get("free"),
        "control": "control" in fields,
    }


def parse_docker_fs(text: str) -> tuple[dict[str, Any], list[str]]:
    fields = _fields(text)
    info: dict[str, Any] = {"path": None, "fstype": None, "avail_kb": None, "mount": None, "xfs_ftype": None}
    entries = []
    for key, value in fields:
        if key == "path":
            info["path"] = value
        elif key == "df":
            parts = value.split()
            if len(parts) >= 7:
                info["fstype"] = parts[1]
                info["avail_kb"] = int(parts[4]) if parts[4].isdigit() else None
                info["mount"] = parts[6]
        elif key == "xfs":
            info["xfs_ftype"] = int(value.split("=")[1])
        elif key == "entry":
            entries.append(value)
        elif key == "link":
            info["link"] = value  # /var/lib/docker is a symbolic link to it
    return info, entries


def parse_yum_lock(text: str) -> dict[str, Any] | None:
    fields = dict(_fields(text))
    if "pid" not in fields:
        return None
    pid = fields["pid"]
    return {
        "pidfile": fields.get("pidfile"),
        "pid": int(pid) if pid.isdigit() else None,
        "alive": fields.get("alive") == "yes",
        "command": fields.get("cmd", "").strip() or None,
    }


_PODMAN_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")  # what podman accepts as a name; else the id


def parse_firewall(text: str) -> dict[str, str]:
    """firewalld's state and backend, iptables' version and variant (``1.8.5 (nf_tables)``), as far as the
    host has them; values outside their vocabulary are dropped."""
    said = dict(_fields(text))
    found = {}
    if said.get("firewalld") in ("running", "stopped"):
        found["firewalld"] = said["firewalld"]
    if re.fullmatch(r"[a-z]{1,16}", said.get("backend", "").strip()):
        found["firewalld_backend"] = said["backend"].strip()
    if match := re.fullmatch(
        r"iptables v(\d[\w.]{0,20})(?: \((nf_tables|legacy)\))?", said.get("iptables", "").strip()
    ):
        found["iptables"] = match[1] + (f" ({match[2]})" if match[2] else "")
    return found


def parse_podman(text: str) -> dict[str, list[str]]:
    """``store: OWNER PATH`` then the file in base64 (cut at 256 KiB) -> {owner: their containers' names};
    a store that cannot be read (cut at the cap, not JSON as containers/storage writes it) counts as one
    container named "(unreadable PATH)", so it is never taken for an empty one."""
    stores: dict[tuple[str, str], list[str]] = {}
    for key, value in _fields(text):
        if key == "store":
            owner, _, path = value.partition(" ")
            owner = owner if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?", owner) else "(a user)"
            current = stores.setdefault((owner, path), [])
        elif key == "b64" and stores:
            current.append(value)
    found: dict[str, list[str]] = {}
    for (owner, path), chunks in stores.items():
        try:
            entries = json.loads(base64.b64decode("".join(chunks), validate=True))
        except (ValueError, binascii.Error, RecursionError):
            entries = None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            found.setdefault(owner, []).append(f"(unreadable {path if path.isprintable() else repr(path)})")
            continue
        for e in entries:
            given = e.get("names") if isinstance(e.get("names"), list) else []
            names = [n for n in given if isinstance(n, str) and _PODMAN_NAME.fullmatch(n)]
            cid = e.get("id")
            short = cid[:12] if isinstance(cid, str) and re.fullmatch(r"[0-9a-f]{12,64}", cid) else "(no name)"
            found.setdefault(owner, []).append(names[0] if names else short)
    return found


def parse_yum_config(text: str) -> str:
    digest = text.split(maxsplit=1)[0] if text.strip() else ""
    return digest if re.fullmatch(r"[0-9a-f]{64}", digest) else ""


def parse_user(text: str) -> dict[str, Any]:
    fields = _fields(text)
    values = dict(fields)
    uid = values.get("uid", "")
    return {
        "uid": int(uid) if uid.isdigit() else None,
        "name": values.get("name"),
        "login": values.get("login"),
        "requiretty": [v for k, v in fields if k == "requiretty" and re.search(r"(?<!!)\brequiretty\b", v)],
    }


def parse_selinux(text: str) -> str | None:
    values = dict(_fields(text))
    mode = values.get("mode") or values.get("config", "").removeprefix("SELINUX=")
    return mode.strip().lower() or None


def parse_clock(text: str) -> int | None:
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    return int(value) if value.isdigit() else None


def parse_docker_config(text: str, sums: dict[str, str] | None = None) -> dict[str, str]:
    return _dumped_files(text, sums)


def parse_day_two(
    text: str, sums: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[str] | None, dict[str, str | None]]:
    """``user: NAME`` (exists), ``group: docker:x:GID:MEMBERS``, ``sysctl: KEY [VALUE]`` lines, then the
    files (``== PATH SHA256`` and their text; a secret's header alone)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("== /")), len(lines))
    users, group, sysctls = [], None, {}
    for key, value in _fields("\n".join(lines[:start])):
        if key == "user":
            users.append(value)
        elif key == "group" and value.count(":") == 3:
            group = [m for m in value.rsplit(":", 1)[1].split(",") if m]
        elif key == "sysctl":
            name, _, found = value.partition(" ")
            sysctls[name] = " ".join(found.split()) if found.strip() else None
    files = _dumped_files("\n".join(lines[start:]), sums)
    return {p: c for p, c in files.items() if not daytwo.secret(p)}, users, group, sysctls


def parse_service_manager(text: str) -> str:
    fields = _fields(text)
    values = dict(fields)
    if values.get("pid1") == "systemd" or values.get("booted") == "systemd":
        return "systemd"
    if any(k == "tool" and v == "systemctl" for k, v in fields):
        return "systemd"
    return "sysv"


# What `systemctl is-enabled` and `is-active` answer 0 for: one `systemctl show` tells both.
_ENABLED = {"enabled", "enabled-runtime", "alias", "static", "indirect", "generated", "transient"}
_ACTIVE = {"active", "reloading"}


def parse_services(text: str) -> dict[str, dict[str, bool]]:
    """``NAME enabled: yes|no`` and ``NAME active: yes|no`` (chkconfig and service), or ``NAME
    PROPERTY=VALUE`` lines of `systemctl show` (LoadState, UnitFileState, ActiveState)."""
    services: dict[str, dict[str, bool]] = {}
    units: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        name, _, said = line.strip().partition(" ")
        prop, equals, state = said.partition("=")
        if equals and prop in ("LoadState", "UnitFileState", "ActiveState"):
            units.setdefault(name, {})[prop] = state.strip()
            continue
        key, colon, value = said.partition(": ")
        if colon:
            services.setdefault(name, {})[key.strip()] = value.strip() == "yes"
    for name, unit in units.items():
        found = unit.get("LoadState") != "not-found"  # a unit that is not there says little else truthfully
        services[name] = {
            "enabled": found and unit.get("UnitFileState") in _ENABLED,
            "active": found and unit.get("ActiveState") in _ACTIVE,
        }
    return services


def parse_ledger(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """``entry: KIND VALUE`` lines (the host's ledger) -> {kind: [values]}, and ``state: DIR`` lines."""
    entries: dict[str, list[str]] = {}
    dirs = []
    for key, value in _fields(text):
        if key == "state":
            dirs.append(value)
        elif key == "entry" and len(value.split()) == 2:
            kind, item = value.split()
            entries.setdefault(kind, []).append(item)
    return entries, dirs


def parse_jobs(text: str) -> list[dict[str, Any]]:
    """``state: LOG PID-or-RC`` lines: running, done (with its exit status) or lost (killed, e.g. a reboot)."""
    jobs = []
    for state, value in _fields(text):
        log, _, number = value.partition(" ")
        jobs.append(
            {"state": state, "log": log, "pid" if state != "done" else "rc": int(number) if number.isdigit() else None}
        )
    return jobs


def parse(output: str) -> Facts:
    """All the facts from one run of the facts script."""
    sections = split_sections(output)
    expected = [
        "uname", "release", "packages", "cgroups", "cgroup2", "cgroup_subsystems", "filesystems", "kernel_config",
        "device_mapper", "loop", "block_devices", "docker_fs", "yum_lock", "yum_config", "user", "selinux", "clock",
        "firewall", "podman", "docker_config", "day_two", "ledger", "service_manager", "end",
    ]  # fmt: skip
    get = sections.get
    facts = Facts(**parse_uname(get("uname", "")), **parse_release(get("release", "")))
    facts.packages = parse_packages(get("packages", ""))
    facts.cgroup_mounts = parse_cgroups(get("cgroups", ""))
    facts.cgroup2 = parse_cgroup2(get("cgroup2", ""))
    facts.cgroup_subsystems = parse_cgroup_subsystems(get("cgroup_subsystems", ""))
    facts.filesystems = parse_filesystems(get("filesystems", ""))
    facts.kernel_config_path, facts.kernel_config = parse_kernel_config(get("kernel_config", ""))
    facts.device_mapper = parse_device_mapper(get("device_mapper", ""))
    facts.loop = parse_loop(get("loop", ""))
    facts.block_devices = parse_block_devices(get("block_devices", ""))
    facts.docker_fs, facts.docker_store_entries = parse_docker_fs(get("docker_fs", ""))
    facts.yum_lock = parse_yum_lock(get("yum_lock", ""))
    facts.yum_config = parse_yum_config(get("yum_config", ""))
    facts.podman_containers = parse_podman(get("podman", ""))
    facts.firewall = parse_firewall(get("firewall", ""))
    facts.user = parse_user(get("user", ""))
    facts.selinux = parse_selinux(get("selinux", ""))
    facts.remote_time = parse_clock(get("clock", ""))
    facts.docker_config = parse_docker_config(get("docker_config", ""), facts.file_sums)
    facts.day_two_files, facts.users, facts.docker_group, facts.sysctls = parse_day_two(
        get("day_two", ""), facts.file_sums
    )
    facts.ledger, facts.state_dirs = parse_ledger(get("ledger", ""))
    facts.service_manager = parse_service_manager(get("service_manager", ""))
    if "services" in sections:  # the provision script
        expected += ["services", "repo_files", "jobs", "bundle", "docker_info", "docker"]
        facts.services = parse_services(sections["services"])
        facts.repo_files = _dumped_files(sections["repo_files"], facts.file_sums)
        facts.jobs = parse_jobs(sections.get("jobs", ""))
        for path, text in _dumped_files(sections.get("bundle", "")).items():
            platform = path.rsplit("/", 2)[-2]
            facts.bundle_sums[platform] = dict(reversed(line.split(None, 1)) for line in text.splitlines() if line)
    if "docker" in sections:  # the provision script, or docker_script() alone
        _parse_docker(sections, facts)
    facts.missing_sections = [s for s in expected if s not in sections]
    return facts


def _parse_docker(sections: dict[str, str], facts: Facts) -> None:
    said = dict(_fields(sections["docker"]))
    rc = said.get("rc", "")
    facts.docker_command = said.get("command") == "yes"
    facts.docker_info = sections.get("docker_info", "") if facts.docker_command else None
    facts.docker_info_rc = int(rc) if rc.isdigit() else None
    ids = (value.removeprefix("sha256:") for key, value in _fields(sections["docker"]) if key == "image")
    facts.docker_images = sorted({f"sha256:{i}" for i in ids if re.fullmatch(r"[0-9a-f]{64}", i)})
