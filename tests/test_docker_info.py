"""`docker info` from every era (tests/docker_info/<case>.txt -> <case>.json) and the validation rules.

Set PYINSTALL_UPDATE_GOLDEN=1 to (re)write the .json files, then review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from installer import asked, checks, docker_info, facts
from installer.info import HostInfo, outliers, summary
from installer.outcome import Status
from installer.validate import Expected, expected, thin_pool, validate, version_matches

HERE = Path(__file__).parent / "docker_info"
CASES = sorted(HERE.glob("*.txt"))


def parsed(name: str) -> docker_info.DockerInfo:
    return docker_info.parse((HERE / f"{name}.txt").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path) -> None:
    got = json.loads(json.dumps(docker_info.parse(case.read_text()).to_dict()))
    expected = case.with_suffix(".json")
    if os.environ.get("PYINSTALL_UPDATE_GOLDEN"):
        expected.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(expected.read_text())


def test_el6_1_7_devicemapper() -> None:
    d = parsed("el6-1.7.1-devicemapper").to_dict()
    assert d["server_version"] is None  # 1.7 prints none
    assert (d["storage_driver"], d["data_space_total"], d["operating_system"]) == (
        "devicemapper",
        "107.4 GB",
        "<unknown>",
    )
    assert d["sections"]["Storage Driver"]["Library Version"] == "1.02.117-RHEL6 (2016-12-13)"  # a colon-free value
    assert docker_info.size_bytes(d["data_space_total"]) == 107.4e9


def test_loopback_warning_inside_the_section_and_colons_in_values() -> None:
    info = parsed("el7-1.13.1-loopback-2to1")
    d = info.to_dict()
    assert d["metadata_loop_file"] == "/var/lib/docker/devicemapper/devicemapper/metadata"
    assert any("loopback devices is strongly discouraged" in w for w in d["warnings"])
    assert "WARNING: bridge-nf-call-iptables is disabled" in d["warnings"]
    assert d["sections"]["Registry"] == "https://index.docker.io/v1/"
    assert d["sections"]["Security Options"] == {"seccomp": {"Profile": "/etc/docker/seccomp.json"}, "selinux": None}
    assert d["sections"]["Containers"] == {"value": "2", "Running": "1", "Paused": "0", "Stopped": "1"}
    assert d["sections"]["Insecure Registries"] == ["127.0.0.0/8"]


def test_client_server_and_multiline_warning() -> None:
    d = parsed("el7-19.03-client-server").to_dict()
    assert d["supports_d_type"] is False
    assert d["warnings"] == [
        "WARNING: overlay2: the backing xfs filesystem is formatted without d_type support, which leads to incorrect "
        "behavior. Reformat the filesystem with ftype=1 to enable d_type support. Running without d_type support "
        "will not be supported in future releases."
    ]
    new = parsed("el7-24.0-cgroupv2")
    assert new.client["Plugins"]["buildx"] == {"value": "Docker Buildx (Docker Inc.)", "Version": "v0.11.2",
                                               "Path": "/usr/libexec/docker/cli-plugins/docker-buildx"}  # fmt: skip
    assert new.to_dict()["cgroup_driver"] == "systemd" and new.get("Cgroup Version") == "2"
    assert parsed("el7-18.09-overlay2").get("Labels") == ["rack=r12", "tier=frontend"]


def test_unreachable_daemons() -> None:
    for name in ("unreachable-20.10", "unreachable-1.7"):
        info = parsed(name)
        assert not info.reachable and info.errors
    assert not docker_info.parse("").reachable


def test_a_paste_without_indentation_is_renested() -> None:
    flat, real = parsed("pasted-flat-1.13").to_dict(), parsed("el7-1.13.1-loopback-2to1").to_dict()
    assert flat["storage_driver"] == real["storage_driver"] == "devicemapper"
    assert flat["data_loop_file"] == real["data_loop_file"]
    assert flat["sections"]["Containers"]["Running"] == "1"
    assert flat["sections"]["Plugins"] == {"Volume": "local", "Network": "bridge host macvlan null overlay"}


def codes(findings, level=None) -> set[str]:
    return {f.code for f in findings if level is None or f.level == level}


def test_validation_rules() -> None:
    assert codes(validate(parsed("unreachable-20.10"), Expected())) == {"DAEMON_UNREACHABLE"}
    loop = validate(parsed("el7-1.13.1-loopback-2to1"), Expected(storage_driver="devicemapper", version="1.13.1"))
    assert codes(loop, "error") == set()
    assert codes(loop, "warning") == {"DEVICEMAPPER_LOOP", "BRIDGE_NF"}
    assert "dm.thinpooldev" in next(f.hint for f in loop if f.code == "DEVICEMAPPER_LOOP")
    assert codes(validate(parsed("el7-19.03-client-server"), Expected()), "error") == {"D_TYPE"}
    other = Expected(storage_driver="devicemapper", version="18.09.2", cgroup_driver="systemd", root_dir="/data/docker")
    wrong = validate(parsed("el7-18.09-overlay2"), other)
    assert codes(wrong, "error") == {"STORAGE_DRIVER", "VERSION", "CGROUP_DRIVER", "ROOT_DIR"}
    assert version_matches("20.10.24+dfsg1", "20.10.24") and version_matches("18.09.1-ce", "18.09.1")
    assert not version_matches("1.13.1", "1.7.1")
    assert asked.parse(
        "h", {"docker_daemon_options": {"exec-opts": ["native.cgroupdriver=systemd"]}}
    ).cgroup_driver == ("systemd")


def test_devicemapper_on_a_real_kernel_loop_files_or_a_thin_pool() -> None:
    """Recorded on the lab's @uml hosts (a kernel with device-mapper): loop-lvm names its loop files and is
    warned about; direct-lvm names its thin pool and is not."""
    wanted = Expected(storage_driver="devicemapper", version="20.10.24")
    loop = parsed("lab-uml-el7-devicemapper-loop")
    assert loop.to_dict()["data_loop_file"] == "/var/lib/docker/devicemapper/devicemapper/data"
    assert loop.to_dict()["metadata_loop_file"] == "/var/lib/docker/devicemapper/devicemapper/metadata"
    assert "DEVICEMAPPER_LOOP" in codes(validate(loop, wanted), "warning")
    assert codes(validate(loop, wanted), "error") == set()
    lvm = parsed("lab-uml-el7-direct-lvm")
    assert (lvm.to_dict()["pool_name"], lvm.to_dict()["data_loop_file"]) == ("docker-thinpool", None)
    assert "DEVICEMAPPER_LOOP" not in codes(validate(lvm, wanted))
    assert codes(validate(lvm, wanted), "error") == set()


def test_info_expects_what_provision_installs_the_defaulted_driver_too() -> None:
    """The same model for both: no docker_storage_driver means the platform's default for the host's facts."""
    recorded = facts.parse((Path(__file__).parent / "facts/lab-el7-full.txt").read_text())
    wanted = expected(checks.subject(recorded, asked.parse("h", {})))
    assert wanted.storage_driver == "devicemapper"  # the lab root is overlayfs: overlay2 cannot stack on it
    assert wanted.version == "20.10.24"  # EL7's docker-ce pin


def test_summary_and_outliers_among_hosts_asked_the_same() -> None:
    overlay, loop = parsed("el7-18.09-overlay2"), parsed("el7-1.13.1-loopback-2to1")
    same = ("overlay2", "18.09.1")
    hosts = [HostInfo(f"h{i}", Status.OK, info=overlay, asks=same) for i in range(3)]
    hosts.append(HostInfo("odd", Status.OK, info=loop, asks=same))
    hosts.append(HostInfo("asked-otherwise", Status.OK, info=loop, asks=("devicemapper", "1.13.1")))
    hosts.append(HostInfo("down", Status.UNREACHABLE, asks=same))
    s = summary(hosts)
    assert s["versions"] == {"18.09.1": 3, "1.13.1": 2} and s["storage_drivers"] == {"overlay2": 3, "devicemapper": 2}
    found = {(o.host, o.field, o.value, o.majority, o.peers) for o in outliers(hosts)}
    assert found == {
        ("odd", "version", "1.13.1", "18.09.1", 4),
        ("odd", "storage_driver", "devicemapper", "overlay2", 4),
    }


def test_debug_mode_fields_are_the_servers_wherever_an_old_daemon_nests_them() -> None:
    """1.9 in debug mode nests Docker Root Dir and the proxies under `Debug mode (server)`; 1.13 only counters."""
    old = parsed("el7-1.9-debug")
    assert (old.get("Docker Root Dir"), old.get("Http Proxy"), old.get("Debug mode (server)")) == (
        "/srv/docker", "http://proxy.example.com:3128", "true"
    )  # fmt: skip
    assert validate(old, Expected(root_dir="/var/lib/docker"))[0].code == "ROOT_DIR"
    newer = parsed("el7-1.13.1-debug")
    assert (newer.get("Docker Root Dir"), newer.get("Goroutines"), newer.get("Debug Mode (server)")) == (
        "/var/lib/docker", "24", "true"
    )  # fmt: skip


def test_a_thin_pool_asked_is_the_one_docker_info_names() -> None:
    loop, lvm = parsed("lab-uml-el7-devicemapper-loop"), parsed("lab-uml-el7-direct-lvm")
    direct = Expected(storage_driver="devicemapper", thin_pool=thin_pool(("dm.directlvm_device=/dev/ubdb",)))
    assert direct.thin_pool == "docker-thinpool" and thin_pool(("dm.thinpooldev=/dev/mapper/vg-pool",)) == "vg-pool"
    assert "THIN_POOL" not in {f.code for f in validate(lvm, direct)}
    [refused] = [f for f in validate(loop, direct) if f.code == "THIN_POOL"]
    assert refused.level == "error" and "loop files: /var/lib/docker/devicemapper/devicemapper/data" in refused.message
    assert "THIN_POOL" not in {f.code for f in validate(loop, Expected(storage_driver="devicemapper"))}


def test_whether_docker_is_there_and_answers_is_told_once_for_every_command() -> None:
    """Facts.daemon: no docker command is None (not installed), a daemon that never answered within the
    timeout is there and unreachable, saying so; a provisioned host's answer parses."""

    def answer(docker: str, info: str = "") -> facts.Facts:
        m = facts.MARKER
        return facts.parse(f"\n{m}docker_info\n{info}\n{m}docker\n{docker}\n{m}end\n")

    assert answer("").daemon() is None
    hung = answer("command: yes\nrc: 124").daemon()
    assert hung is not None and not hung.reachable and "no answer within 20 s" in hung.errors[0]
    stopped = answer("command: yes\nrc: 1", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    assert not stopped.daemon().reachable and stopped.daemon().errors == [
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    ]
    provisioned = facts.parse((Path(__file__).parent / "facts/lab-el7-provisioned.txt").read_text())
    assert provisioned.docker_command and provisioned.daemon().server_version == "20.10.24+dfsg1"
    assert facts.parse((Path(__file__).parent / "facts/lab-el7-full.txt").read_text()).daemon() is None


def test_the_docker_probe_runs_in_a_posix_shell_and_parses(tmp_path: Path) -> None:
    """docker_script() run for real by this machine's sh: its answer says whether a docker command is there,
    as the script's own PATH finds it, and what `docker info` answered."""
    import shutil
    import subprocess

    script = facts.docker_script()
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    answer = facts.parse(proc.stdout)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert answer.docker_command is (shutil.which("docker", path=path) is not None)
    if answer.docker_command:
        assert answer.docker_info_rc is not None and answer.daemon() is not None
    else:
        assert answer.daemon() is None
