"""Builds what every lab host shares: the RPMs and yum repositories, and the two distro layers.

rpm/*.spec + files/ + the machine's docker binaries ─▶ repo/ (createrepo_c, real layout)
repo/ base packages + whiteouts + opaque dirs       ─▶ layers/el6, el7, el8, el9, el8-podman (on a tmpfs)
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import archive
from .spec import KINDS

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
SPECS = HERE / "rpm"

DOCKER_VERSION = "20.10.24"  # Debian 12's docker.io, the payload of the lab's docker RPMs
CONTAINERD_VERSION = "1.6.20"
# The real engine binaries on the lab machine (Debian's docker.io, containerd and runc packages).
PAYLOAD = {
    "docker": "/usr/bin/docker",
    "dockerd.real": "/usr/sbin/dockerd",
    "dockerd": str(FILES / "docker/dockerd-netns"),  # the engine in a network namespace of its own
    "docker-proxy": "/usr/sbin/docker-proxy",
    "docker-init": "/usr/bin/tini-static",
    "containerd": "/usr/bin/containerd",
    "containerd-shim": "/usr/bin/containerd-shim",
    "containerd-shim-runc-v1": "/usr/bin/containerd-shim-runc-v1",
    "containerd-shim-runc-v2": "/usr/bin/containerd-shim-runc-v2",
    "runc": "/usr/sbin/runc",
}
TINI = "/usr/bin/tini-static"
# The upgrade target: a newer engine from Debian unstable's docker.io (it runs on Debian 12's C library
# and containerd), carried by a second docker-ce version in the lab's repository.
NEXT_SUITE, NEXT_PACKAGES = "sid", ("docker.io",)
NEXT_CACHE = Path(os.environ.get("PYINSTALL_LAB_CACHE", "/var/cache/pyinstall-lab")) / "docker-next"


@dataclass(frozen=True)
class Package:
    spec: str
    arch: str  # rpmbuild --target
    repos: tuple[str, ...]  # repo dirs below repo/, before the arch part
    defines: tuple[tuple[str, str], ...] = ()
    layer: tuple[str, ...] = field(default=())  # layers it is pre-installed in (spec.Kind.layer)

    @property
    def key(self) -> str:
        return "-".join([self.spec.removesuffix(".spec"), *(v for _, v in self.defines)])


def _el(n: str, **more: str) -> tuple[tuple[str, str], ...]:
    return (("el", n), *more.items())


# A repository's directory on the mirror: NAME/ARCH, NAME/ARCH/stable for Docker's, or NAME with {arch} in it.
def repo_dir(name: str, arch: str) -> str:
    if "{arch}" in name:
        return name.format(arch=arch)
    return f"{name}/{arch}/stable" if name.startswith("docker-ce/") else f"{name}/{arch}"


ROCKY8 = ("rocky/8/BaseOS/{arch}/os", "rocky/8/AppStream/{arch}/os", "rocky/8/extras/{arch}/os")
ALMA8 = ("almalinux/8/BaseOS/{arch}/os", "almalinux/8/AppStream/{arch}/os", "almalinux/8/extras/{arch}/os")
ALMA9 = ("almalinux/9/BaseOS/{arch}/os", "almalinux/9/AppStream/{arch}/os", "almalinux/9/extras/{arch}/os")
# Docker's repositories per EL release (the lab serves what a host's .repo file may name): CentOS 7's;
# CentOS 8's (it stopped at 26.1.3, docker-ce-packaging#1024) and RHEL 8's; CentOS Stream 9's.
DOCKER_CE = {
    "7": ("docker-ce/linux/centos/7",),
    "8": ("docker-ce/linux/centos/8", "docker-ce/linux/rhel/8"),
    "9": ("docker-ce/linux/centos/9", "docker-ce/linux/rhel/9"),
}

PACKAGES = (
    Package("centos-release.spec", "noarch", ("centos/6/os",), _el("6"), ("el6",)),
    Package("centos-release.spec", "noarch", ("centos/7/os",), _el("7"), ("el7",)),
    Package("el-release.spec", "noarch", ROCKY8[:1], _el("8", distro="rocky"), ("el8", "el8-podman")),
    # What ELevate installs on a CentOS 7 host it moves to AlmaLinux 8.
    Package("el-release.spec", "noarch", ALMA8[:1], _el("8", distro="almalinux")),
    Package("el-release.spec", "noarch", ALMA9[:1], _el("9", distro="almalinux"), ("el9",)),
    Package("lab-base.spec", "noarch", ("centos/6/os",), _el("6"), ("el6",)),
    Package("lab-base.spec", "noarch", ("centos/7/os",), _el("7"), ("el7",)),
    Package("lab-base.spec", "noarch", (ROCKY8[0], ALMA8[0]), _el("8"), ("el8", "el8-podman")),
    Package("lab-base.spec", "noarch", ALMA9[:1], _el("9"), ("el9",)),
    Package("initscripts.spec", "noarch", ("centos/6/os",), layer=("el6",)),
    Package("chkconfig.spec", "noarch", ("centos/6/os",), layer=("el6",)),
    Package("systemd.spec", "noarch", ("centos/7/os",), _el("7"), ("el7",)),
    Package("systemd.spec", "noarch", (ROCKY8[0], ALMA8[0]), _el("8"), ("el8", "el8-podman")),
    Package("systemd.spec", "noarch", ALMA9[:1], _el("9"), ("el9",)),
    Package("podman.spec", "x86_64", (ROCKY8[1], ALMA8[1]), _el("8"), ("el8-podman",)),
    Package("podman.spec", "x86_64", ALMA9[1:2], _el("9")),
    Package("libcgroup.spec", "noarch", ("centos/6/os",)),
    Package("yum-plugin-downloadonly.spec", "noarch", ("centos/6/os",)),
    # EL6 shipped an older device-mapper-libs than docker-io needs: "yum update" fetches the newer one.
    Package(
        "device-mapper-libs.spec",
        "noarch",
        ("centos/6/os",),
        (("dmversion", "1.02.79"), ("dmrelease", "8.el6")),
        ("el6",),
    ),
    Package(
        "device-mapper-libs.spec", "noarch", ("centos/6/updates",), (("dmversion", "1.02.117"), ("dmrelease", "12.el6"))
    ),
    Package(
        "device-mapper-libs.spec",
        "noarch",
        ("centos/7/os",),
        (("dmversion", "1.02.170"), ("dmrelease", "6.el7_9.5")),
        ("el7",),
    ),
    Package("epel-release.spec", "noarch", ("centos/6/extras",), _el("6")),
    Package("epel-release.spec", "noarch", ("centos/7/extras",), _el("7")),
    Package("docker-io.spec", "x86_64", ("epel/6",)),
    Package("docker.spec", "x86_64", ("centos/7/extras",)),
    *(Package("docker-ce.spec", "x86_64", repos, _el(el)) for el, repos in DOCKER_CE.items()),
)
# Every repository, per release, with the arches whose directories exist on a real mirror.
REPOS = {
    "centos/6/os": ("x86_64", "i386"),
    "centos/6/updates": ("x86_64", "i386"),
    "centos/6/extras": ("x86_64", "i386"),
    "epel/6": ("x86_64", "i386"),
    "centos/7/os": ("x86_64",),
    "centos/7/updates": ("x86_64",),
    "centos/7/extras": ("x86_64",),
    "epel/7": ("x86_64",),
    **{name: ("x86_64",) for name in (*ROCKY8, *ALMA8, *ALMA9)},
    **{name: ("x86_64",) for repos in DOCKER_CE.values() for name in repos},
}

DOCKER_CE_REPO = """\
[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=file:///srv/lab-repo/docker-ce/linux/{distro}/$releasever/$basearch/stable
enabled=1
gpgcheck=0
"""


class BuildError(RuntimeError):
    pass


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def systemctl_script() -> Path:
    """docker-systemctl-replacement's single-file systemctl, from the installed PyPI package."""
    spec = importlib.util.find_spec("systemctl2")
    script = spec and Path(next(iter(spec.submodule_search_locations)), "systemctl3.py")
    if not script or not script.is_file():
        raise BuildError("docker-systemctl-replacement is not installed: pip install -e '.[test]'")
    return script


def _digest() -> str:
    """What the repository depends on: spec files, lab files, the payload and systemctl."""
    h = hashlib.sha256()
    for path in sorted([*SPECS.rglob("*"), *FILES.rglob("*"), Path(__file__)]):
        if path.is_file():
            h.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    for path in [*PAYLOAD.values(), str(systemctl_script()), str(next_engine()[1] / "dockerd")]:
        st = os.stat(path)
        h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _rpmbuild(pkg: Package, out: Path, payload: Path, systemctl: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="lab-rpmbuild-") as top:
        defines = {
            "_topdir": top,
            "_rpmdir": f"{top}/RPMS",
            "_build_id_links": "none",
            "_binary_payload": "w1.zstdio",  # fast: the docker payload is ~200 MB
            "labfiles": str(FILES),
            "payload": str(payload),
            "systemctl": str(systemctl),
            "docker_version": DOCKER_VERSION,
            "containerd_version": CONTAINERD_VERSION,
            "el": "6",
            **dict(pkg.defines),
        }
        argv = ["rpmbuild", "-bb", "--nodeps", "--target", pkg.arch]
        for key, value in defines.items():
            argv += ["--define", f"{key} {value}"]
        run([*argv, str(SPECS / pkg.spec)])
        built = list(Path(top, "RPMS").rglob("*.rpm"))
        dest = out / pkg.key
        dest.mkdir(parents=True, exist_ok=True)
        result = []
        for rpm in built:
            shutil.move(str(rpm), dest / rpm.name)
            result.append(dest / rpm.name)
        return result


def next_engine(cache: Path = NEXT_CACHE) -> tuple[str, Path]:
    """The newer engine's version (``28.5.2``) and a directory with its dockerd and docker-proxy: fetched
    once per machine from Debian's archive, then reused."""
    version_file = cache / "version"
    cache.mkdir(parents=True, exist_ok=True)
    # Two test workers (or labs) may ask at once: one fetches, the other waits for it.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not version_file.exists():
            _fetch_next_engine(cache, version_file)
    return version_file.read_text().strip(), cache / "engine"


def _fetch_next_engine(cache: Path, version_file: Path) -> None:
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            root = archive.download(NEXT_SUITE, NEXT_PACKAGES, Path(tmp))
        except archive.ArchiveError as exc:
            raise BuildError(f"the lab's upgrade target: {exc}") from None
        said = run([str(root / "usr/sbin/dockerd"), "--version"]).stdout  # "Docker version 28.5.2+dfsg4, ..."
        version = said.split()[2].split("+")[0].rstrip(",")
        engine = cache / "engine"
        shutil.rmtree(engine, ignore_errors=True)
        engine.mkdir()
        for name in ("dockerd", "docker-proxy"):
            shutil.copy2(root / "usr/sbin" / name, engine / name)
    version_file.write_text(version)


def repo_is_current(repo: Path) -> bool:
    stamp = repo / ".digest"
    return stamp.exists() and stamp.read_text() == _digest()


def build_repo(repo: Path) -> None:
    """Build every RPM and lay the repositories out like the real mirrors. Skipped when up to date."""
    digest = _digest()
    stamp = repo / ".digest"
    if stamp.exists() and stamp.read_text() == digest:
        return
    _empty(repo)  # in place: running hosts keep it bind-mounted
    rpms = repo / ".rpms"
    payload = repo / ".payload"
    payload.mkdir(parents=True)
    for name, src in PAYLOAD.items():
        shutil.copy2(os.path.realpath(src), payload / name)
    # The upgrade target: the same payload with the newer engine, as docker-ce and docker-ce-cli only.
    next_version, engine = next_engine()
    next_payload = repo / ".payload-next"
    shutil.copytree(payload, next_payload)
    shutil.copy2(engine / "dockerd", next_payload / "dockerd.real")
    shutil.copy2(engine / "docker-proxy", next_payload / "docker-proxy")
    upgrades = [Package("docker-ce.spec", "x86_64", repos, _el(el, docker_version=next_version, engine_only="1"))
                for el, repos in DOCKER_CE.items()]  # fmt: skip
    jobs = [(pkg, payload) for pkg in PACKAGES] + [(upgrade, next_payload) for upgrade in upgrades]
    systemctl = systemctl_script()
    with ThreadPoolExecutor(max_workers=4) as pool:
        built = dict(zip([pkg for pkg, _ in jobs], pool.map(lambda job: _rpmbuild(job[0], rpms, job[1], systemctl),
                                                               jobs)))  # fmt: skip
    shutil.rmtree(payload)
    shutil.rmtree(next_payload)
    for dirname, arches in REPOS.items():
        for arch in arches:
            target = repo / repo_dir(dirname, arch)
            target.mkdir(parents=True, exist_ok=True)
            for pkg, files in built.items():
                if dirname in pkg.repos:
                    for rpm in files:
                        if rpm.name.endswith((".noarch.rpm", f".{arch}.rpm")):
                            os.link(rpm, target / rpm.name)
            run(["createrepo_c", "--quiet", "--no-database", str(target)])
    for distro in ("centos", "rhel"):
        (repo / f"docker-ce/linux/{distro}/docker-ce.repo").write_text(DOCKER_CE_REPO.format(distro=distro))
    stamp.write_text(digest)


def _empty(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def layer_rpms(repo: Path, layer: str) -> list[Path]:
    return [rpm for pkg in PACKAGES if layer in pkg.layer for rpm in (repo / ".rpms" / pkg.key).glob("*.rpm")]


LAYERS = sorted({kind.layer for kind in KINDS.values()})


# Paths of the lab machine (Debian) that an EL host must not see, per family.
WHITEOUTS_COMMON = [
    "etc/debian_version",
    "etc/lsb-release",
    "usr/bin/lsb_release",
    "etc/apt",
    "etc/dpkg",
    "var/lib/dpkg",
    "usr/bin/apt",
    "usr/bin/apt-get",
    "usr/bin/apt-cache",
    "usr/bin/apt-key",
    "usr/bin/apt-mark",
    "usr/bin/apt-config",
    "usr/bin/dpkg",
    "usr/bin/dpkg-query",
    "usr/bin/dpkg-deb",
    "usr/bin/dpkg-divert",
    "usr/bin/dpkg-split",
    "usr/bin/dpkg-trigger",
    "usr/bin/dpkg-statoverride",
    "usr/sbin/invoke-rc.d",
    "usr/sbin/update-rc.d",
    "usr/bin/docker",
    "usr/sbin/dockerd",
    "usr/sbin/docker-proxy",
    "usr/bin/docker-init",
    "usr/bin/containerd",
    "usr/bin/containerd-shim",
    "usr/bin/containerd-shim-runc-v1",
    "usr/bin/containerd-shim-runc-v2",
    "usr/bin/ctr",
    "usr/bin/runc",
    "usr/sbin/runc",
    "usr/lib/systemd/system/docker.service",
    "usr/lib/systemd/system/docker.socket",
    "usr/lib/systemd/system/containerd.service",
    "etc/default/docker",
    "etc/init.d",
    "etc/rc0.d",
    "etc/rc1.d",
    "etc/rc2.d",
    "etc/rc3.d",
    "etc/rc4.d",
    "etc/rc5.d",
    "etc/rc6.d",
    "etc/rcS.d",
    "usr/sbin/service",
]
WHITEOUTS = {
    "el6": ["etc/os-release", "usr/lib/os-release", "usr/bin/systemctl"],
    "el7": [],
    "el8": [],
    "el9": [],
}
# Directories every host starts with empty (its own), whatever the machine has there.
OPAQUE = [
    "tmp",
    "var/tmp",
    "var/log",
    "var/cache",
    "var/lib/rpm",
    "var/lib/dnf",
    "var/lib/yum",
    "root",
    "home",
    "run",
    "srv",
    "usr/local",
    "etc/docker",
    "var/lib/docker",
    "var/lib/containerd",
    "var/lib/containers",
    "etc/yum.repos.d",
    "etc/dnf",
    "etc/systemd/system",
    "etc/sysconfig",
    "etc/ssh/sshd_config.d",
]

# The simulated kernels' configs (/boot/config-RELEASE), as EL's stock kernels set the options Docker
# needs: EL6's 2.6.32 has no NF_NAT_IPV4 (NF_NAT covers it) and no overlay filesystem.
_KERNEL_COMMON = """\
CONFIG_NAMESPACES=y
CONFIG_UTS_NS=y
CONFIG_IPC_NS=y
CONFIG_PID_NS=y
CONFIG_NET_NS=y
CONFIG_CGROUPS=y
CONFIG_CGROUP_FREEZER=y
CONFIG_CGROUP_DEVICE=y
CONFIG_CPUSETS=y
CONFIG_CGROUP_CPUACCT=y
CONFIG_CGROUP_SCHED=y
CONFIG_POSIX_MQUEUE=y
CONFIG_VETH=m
CONFIG_BRIDGE=m
CONFIG_BRIDGE_NETFILTER=y
CONFIG_NF_NAT=m
CONFIG_NF_NAT_NEEDED=y
CONFIG_IP_NF_FILTER=m
CONFIG_IP_NF_TARGET_MASQUERADE=m
CONFIG_NETFILTER_XT_MATCH_ADDRTYPE=m
CONFIG_NETFILTER_XT_MATCH_CONNTRACK=m
CONFIG_BLK_DEV_DM=m
CONFIG_DM_THIN_PROVISIONING=m
"""
KERNEL_CONFIG = {
    "el6": _KERNEL_COMMON + "CONFIG_CGROUP_MEM_RES_CTLR=y\n# CONFIG_OVERLAY_FS is not set\n",
    "el7": _KERNEL_COMMON + "CONFIG_MEMCG=y\nCONFIG_NF_NAT_IPV4=m\nCONFIG_OVERLAY_FS=m\n",
    "el8": _KERNEL_COMMON + "CONFIG_MEMCG=y\nCONFIG_NF_NAT_IPV4=m\nCONFIG_IP_NF_NAT=m\nCONFIG_OVERLAY_FS=m\n",
    # 5.1 folded NF_NAT_IPV4 into NF_NAT; cgroup v2's device controller is an eBPF program.
    "el9": _KERNEL_COMMON + "CONFIG_MEMCG=y\nCONFIG_IP_NF_NAT=m\nCONFIG_OVERLAY_FS=m\nCONFIG_CGROUP_BPF=y\n",
}

DNF_CONF = """\
[main]
gpgcheck=0
installonly_limit=3
clean_requirements_on_remove=True
best=False
skip_if_unavailable=False
keepcache=0
"""


def build_layer(layer: Path, name: str, repo: Path) -> None:
    """Lay out one distro layer (spec.Kind.layer: el7, el8-podman): identity RPMs and the packages
    pre-installed, init system, shims, whiteouts and opaque dirs."""
    family = name.split("-")[0]
    stamp = (repo / ".digest").read_text()
    if (layer / ".built").exists() and (layer / ".built").read_text() == stamp:
        return
    if layer.exists():
        shutil.rmtree(layer)
    layer.mkdir(parents=True)
    # The machine is /usr-merged: keep the links, or a layer dir would hide the machine's /sbin etc.
    for link in ("bin", "sbin", "lib", "lib64"):
        os.symlink(f"usr/{link}", layer / link)
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/libexec/lab", "etc/rpm", "etc/popt.d", "var/lib/rpm"):
        (layer / d).mkdir(parents=True, exist_ok=True)

    rpms = [str(p) for p in layer_rpms(repo, name)]
    root = ["rpm", f"--root={layer}", "--dbpath=/var/lib/rpm"]
    run([*root, "--initdb"])
    run([*root, "-i", "--nodeps", "--noscripts", "--force-debian", *rpms])

    for rel in ("usr/libexec/lab/boot", "usr/libexec/lab/relay", "usr/bin/uname", "usr/bin/yum"):
        shutil.copy2(FILES / Path(rel).name, layer / rel)
    shutil.copy2(os.path.realpath("/usr/bin/uname"), layer / "usr/libexec/lab/uname.real")
    (layer / "etc/ssh").mkdir(parents=True, exist_ok=True)
    shutil.copy2(FILES / "sshd_config", layer / "etc/ssh/sshd_config")
    (layer / "usr/bin/sh").unlink(missing_ok=True)
    os.symlink("bash", layer / "usr/bin/sh")  # CentOS's sh; dash breaks init scripts using [[ ]]
    if family == "el6":
        shutil.copy2(TINI, layer / "usr/sbin/init")
    else:
        (layer / "usr/lib/systemd").mkdir(parents=True, exist_ok=True)
        shutil.copy2(TINI, layer / "usr/lib/systemd/systemd")
        os.symlink("../lib/systemd/systemd", layer / "usr/sbin/init")
    (layer / "etc/dnf").mkdir(parents=True, exist_ok=True)
    (layer / "etc/dnf/dnf.conf").write_text(DNF_CONF)
    os.symlink("dnf/dnf.conf", layer / "etc/yum.conf")
    (layer / "etc/rpm/macros.dbpath").write_text("%_dbpath /var/lib/rpm\n")
    # Debian's rpm refuses to install without --force-debian; an EL host's rpm just installs.
    (layer / "etc/popt.d/rpm-lab").write_text(
        "".join(f"rpm alias {opt} --force-debian {opt}\n" for opt in ("-i", "-U", "-F", "--install", "--upgrade"))
    )

    (layer / "boot").mkdir(exist_ok=True)
    for kind in KINDS.values():
        if kind.family == family:
            (layer / f"boot/config-{kind.kernel_release}").write_text(
                f"# Simulated config of the lab's {kind.kernel_release} kernel\n" + KERNEL_CONFIG[family]
            )
    ssh_keys = [f"etc/ssh/{p.name}" for p in Path("/etc/ssh").glob("ssh_host_*")]
    for rel in WHITEOUTS_COMMON + WHITEOUTS[family] + ssh_keys:
        path = layer / rel
        if path.is_symlink() or path.exists():
            continue  # the layer provides its own
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))
    for rel in OPAQUE:
        path = layer / rel
        path.mkdir(parents=True, exist_ok=True)
        os.setxattr(path, "trusted.overlay.opaque", b"y")
    os.chmod(layer / "tmp", 0o1777)
    os.chmod(layer / "var/tmp", 0o1777)
    os.chmod(layer / "root", 0o550)
    (layer / ".built").write_text(stamp)


def layer_image(layer: Path) -> Path:
    return layer.parent.parent / "layer-images" / f"{layer.name}.img"


def build_layer_image(layer: Path, image: Path) -> None:
    """The layer as an ext4 image, for @uml hosts (their kernel reads it as a disk: through hostfs the
    layer's opaque-directory xattrs would be lost). Remade when the layer is."""
    stamp, built = (layer / ".built").read_text(), image.with_suffix(".built")
    if image.exists() and built.exists() and built.read_text() == stamp:
        return
    image.parent.mkdir(parents=True, exist_ok=True)
    image.unlink(missing_ok=True)
    with open(image, "wb") as f:
        f.truncate(256 << 20)
    run(["mkfs.ext4", "-q", "-F", "-d", str(layer), str(image)])
    built.write_text(stamp)
