"""Drift: a host's managed files and daemon against what provision would write for it (recorded facts
of provisioned lab hosts, then edited as an operator would by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from installer import asked, docker_info, facts
from installer.drift import HIDDEN, Difference, differences

FACTS = Path(__file__).parent / "facts"
# What the lab's inventory asks of every host (tests/lab/fleet.py).
LAB = {"yum_mirror": "file:///srv/lab-repo", "yum_gpgcheck": False, "docker_version": "20.10.24",
       "docker_daemon_options": {"bridge": "none", "iptables": False, "icc": None}}  # fmt: skip


def provisioned(platform: str) -> facts.Facts:
    return facts.parse((FACTS / f"lab-{platform}-provisioned.txt").read_text())


def found(gathered: facts.Facts, **more: object) -> list[Difference]:
    return differences(gathered, asked.parse("h", {**LAB, **more}), docker_info.parse(gathered.docker_info or ""))


def test_a_host_as_provision_left_it_has_no_drift() -> None:
    assert found(provisioned("el7")) == []
    assert found(provisioned("el6"), docker_storage_driver="vfs") == []


def test_hand_edits_of_daemon_json_are_named_key_by_key() -> None:
    gathered = provisioned("el7")
    config = json.loads(gathered.docker_config["/etc/docker/daemon.json"])
    del config["log-driver"]
    config.update({"data-root": "/var/lib/docker-alt", "debug": True, "live-restore": False})
    gathered.docker_config["/etc/docker/daemon.json"] = json.dumps(config)
    path = "/etc/docker/daemon.json"
    assert found(gathered) == [
        Difference(path, "data-root", None, '"/var/lib/docker-alt"'),
        Difference(path, "debug", None, "true"),
        Difference(path, "live-restore", "true", "false"),
        Difference(path, "log-driver", '"json-file"', None),
    ]
    assert str(found(gathered)[0]) == f'{path}: data-root added on the host ("/var/lib/docker-alt"), not asked for'
    assert str(found(gathered)[3]) == f'{path}: log-driver asked "json-file", missing on the host'


def test_a_config_that_is_not_json_or_is_gone() -> None:
    gathered = provisioned("el7")
    gathered.docker_config["/etc/docker/daemon.json"] = '{"debug": true,'
    assert found(gathered) == [Difference("/etc/docker/daemon.json", "", "a JSON object", "not one")]
    del gathered.docker_config["/etc/docker/daemon.json"]
    assert found(gathered) == [Difference("/etc/docker/daemon.json", "", "present", None)]


def test_hand_edits_of_el6_daemon_flags_are_named_flag_by_flag() -> None:
    gathered = provisioned("el6")
    path = "/etc/sysconfig/docker"
    text = (
        gathered.docker_config[path].replace("--iptables=false ", "").replace("--bridge=none", "--debug --bridge none")
    )
    gathered.docker_config[path] = text
    assert found(gathered, docker_storage_driver="vfs") == [
        Difference(path, "debug", None, "set"),
        Difference(path, "iptables", "false", None),
    ]


def test_the_daemon_running_another_driver_than_asked_is_drift() -> None:
    gathered = provisioned("el6")  # runs vfs, as the lab asks of EL6 hosts
    assert Difference("docker info", "Storage Driver", "devicemapper", "vfs") in found(gathered)


def test_a_repository_password_is_never_shown_only_that_it_differs() -> None:
    gathered = provisioned("el7")
    path = "/etc/yum.repos.d/pyinstall-docker-ce-stable.repo"
    gathered.repo_files[path] += "password=hunter2-on-the-host\n"
    repos = {"docker-ce-stable": {"username": "ops", "password": "canary-asked-9d"}}
    differences_found = found(gathered, yum_repos=repos)
    assert Difference(path, "[docker-ce-stable] password", HIDDEN, HIDDEN) in differences_found
    assert Difference(path, "[docker-ce-stable] username", "ops", None) in differences_found
    assert "hunter2" not in repr(differences_found) and "canary-asked" not in repr(differences_found)


def test_the_store_s_mount_drop_in_is_compared_as_the_unit_file_it_is() -> None:
    """docker_storage_device brings a unit drop-in (RequiresMountsFor): gone or edited, it is drift."""
    gathered, dropin = provisioned("el7"), "/etc/systemd/system/docker.service.d/pyinstall-mounts.conf"
    wanted = {"docker_storage_driver": "overlay2", "docker_storage_device": "/dev/sdc"}
    info = gathered.docker_info.replace("Storage Driver: devicemapper", "Storage Driver: overlay2")
    gathered.docker_info = info
    assert found(gathered, **wanted) == [Difference(dropin, "", "present", None)]
    gathered.docker_config[dropin] = "[Unit]\nRequiresMountsFor=/var/lib/docker/overlay2\n"
    assert found(gathered, **wanted) == []
    gathered.docker_config[dropin] = "[Unit]\nRequiresMountsFor=/srv\n"
    assert found(gathered, **wanted) == [
        Difference(dropin, "[Unit] requiresmountsfor", "/var/lib/docker/overlay2", "/srv")
    ]
