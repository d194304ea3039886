"""Operations on recorded facts: which commands a host needs, from its facts and its variables."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from installer import facts, runtime
from installer.connection import CommandResult, Target
from installer.errors import Unreachable
from installer.executor import CHANGED, UNKNOWN, execute, mask
from installer.plan import plan, write_file_command
from installer.runtime import ManagedFile, PlanError

FACTS = Path(__file__).parent / "facts"
LAB_VARS = {
    "yum_mirror": "file:///srv/lab-repo",
    "docker_version": "20.10.24",
    "docker_daemon_options": {"bridge": "none", "iptables": False, "icc": None},
}


def recorded(name: str) -> facts.Facts:
    return facts.parse((FACTS / f"{name}.txt").read_text())


def yum_part(command: str) -> str:
    """The yum command itself, after the wait for another yum's lock."""
    assert "/var/run/yum.pid" in command, "every yum command waits (boundedly) for the yum lock"
    return command.split("done; ", 1)[1]


def names(p) -> list[str]:
    return [op.name for op in p.operations] + [op.name for op in (p.start, p.restart) if op]


def test_fresh_el6_host_gets_the_whole_play_in_order() -> None:
    fresh = replace(recorded("lab-el6-full"), services={})
    desired = runtime.desired("el6", {**LAB_VARS, "docker_storage_driver": "vfs"}, "devicemapper")
    steps = plan(fresh, desired)
    assert names(steps) == [
        "write repository /etc/yum.repos.d/pyinstall-epel.repo",
        "update device-mapper-libs",
        "install libcgroup",
        "enable cgconfig",
        "start cgconfig",
        "install docker-io 20.10.24",
        "write daemon configuration /etc/sysconfig/docker",
        "enable docker",
        "start docker",
    ]
    install = next(op for op in steps.operations if op.name.startswith("install docker-io"))
    assert yum_part(install.commands[0]) == "yum -y install docker-io-20.10.24" and install.restarts
    repo = desired.files[0].content
    assert "baseurl=file:///srv/lab-repo/epel/6/$basearch\n" in repo and "gpgcheck=0" in repo


def test_provisioned_hosts_need_nothing() -> None:
    el6 = runtime.desired("el6", {**LAB_VARS, "docker_storage_driver": "vfs"}, "devicemapper")
    assert not plan(recorded("lab-el6-provisioned"), el6)
    el7 = runtime.desired("el7", {**LAB_VARS, "docker_storage_driver": "overlay2"}, "overlay2")
    assert not plan(recorded("lab-el7-provisioned"), el7)


def test_a_changed_option_rewrites_the_file_and_restarts_once() -> None:
    variables = {**LAB_VARS, "docker_storage_driver": "overlay2"}
    variables["docker_daemon_options"] = {**variables["docker_daemon_options"], "debug": True}
    steps = plan(recorded("lab-el7-provisioned"), runtime.desired("el7", variables, "overlay2"))
    assert names(steps) == ["write daemon configuration /etc/docker/daemon.json", "restart docker"]
    assert '+  "debug": true,' in steps.operations[0].diff
    assert steps.operations[0].backup == "/etc/docker/daemon.json.pyinstall-backup"


def test_el6_flags_and_el7_json() -> None:
    variables = {
        "docker_storage_driver": "devicemapper",
        "docker_storage_options": "dm.basesize=20G dm.loopdatasize=200G",
    }
    el6 = runtime.desired("el6", variables, "devicemapper")
    line = el6.config_file.content.splitlines()[-1]
    assert (
        line.startswith("other_args='") and "--storage-opt=dm.basesize=20G --storage-opt=dm.loopdatasize=200G" in line
    )
    # EPEL's 1.7.1 has neither live-restore (1.12) nor no-new-privileges (17.05).
    assert "--live-restore" not in line and "--no-new-privileges" not in line and "--icc=false" in line
    assert el6.repos[0].baseurl.startswith("https://archives.fedoraproject.org/pub/archive/epel/6/")
    el7 = runtime.desired("el7", {"docker_daemon_options": {"live-restore": None}}, "overlay2")
    options = json.loads(el7.config_file.content)
    assert "live-restore" not in options and options["storage-driver"] == "overlay2" and options["icc"] is False
    assert el7.package == "docker-ce" and el7.extra_packages == ("docker-ce-cli", "containerd.io")
    extras = runtime.desired("el7", {"docker_package": "docker"}, "overlay2")
    assert extras.repos == () and "docker-ce" in extras.remove and extras.version == "1.13.1"


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"docker_daemon_options": {"iptables": False}}, "icc: false and iptables: false"),
        ({"docker_daemon_options": {"live-restore": True}}, "needs Docker 1.12"),
        ({"docker_daemon_options": {"labels": ["a b"]}}, "cannot be passed on EL6's command line"),
        ({"docker_daemon_options": "icc=false"}, "must be a mapping"),
        ({"docker_storage_driver": "aufs"}, "not supported on el6"),
    ],
)
def test_impossible_requests_are_refused_before_touching_the_host(variables: dict, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        runtime.desired("el6", variables, "devicemapper")


def test_switching_storage_driver_over_existing_data_is_refused() -> None:
    used = replace(recorded("lab-el7-provisioned"), docker_store_entries=["overlay2", "image", "containers"])
    with pytest.raises(PlanError, match="already holds overlay2 data"):
        plan(used, runtime.desired("el7", {**LAB_VARS, "docker_storage_driver": "devicemapper"}, "overlay2"))


def test_an_option_set_twice_is_named_with_its_file() -> None:
    config = {"/etc/systemd/system/docker.service.d/override.conf": "[Service]\nExecStart=\n"
              "ExecStart=/usr/bin/dockerd --storage-driver=devicemapper\n"}  # fmt: skip
    f = replace(recorded("lab-el7-provisioned"), docker_config=config)
    with pytest.raises(PlanError, match=r"override\.conf: --storage-driver") as exc:
        plan(f, runtime.desired("el7", LAB_VARS, "overlay2"))
    assert "single source of truth" in exc.value.hint


def test_version_pin_downgrades_and_upgrades() -> None:
    f = recorded("lab-el6-provisioned")
    older = plan(f, runtime.desired("el6", {**LAB_VARS, "docker_version": "1.7.1", "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    assert yum_part(older.operations[0].commands[0]) == "yum -y downgrade docker-io-1.7.1"
    newer = plan(f, runtime.desired("el6", {**LAB_VARS, "docker_version": "24.0.7", "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    assert yum_part(newer.operations[0].commands[0]) == "yum -y install docker-io-24.0.7"


def test_values_are_quoted_in_commands() -> None:
    f = replace(recorded("lab-el6-full"), services={})
    hostile = "~20.10.24^git1"  # a legal RPM version whose characters a shell would expand unquoted
    steps = plan(f, runtime.desired("el6", {**LAB_VARS, "docker_version": hostile, "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    install = next(op for op in steps.operations if op.name.startswith("install docker-io"))
    assert shlex.split(yum_part(install.commands[0])) == ["yum", "-y", "install", f"docker-io-{hostile}"]


def test_check_mode_runs_nothing() -> None:
    steps = plan(replace(recorded("lab-el6-full"), services={}), runtime.desired("el6", LAB_VARS, "vfs"))
    results = execute(None, steps, check=True)
    assert {r.status for r in results} == {"changed"} and len(results) == len(names(steps))


class LosingSession:
    """Answers ``lives`` commands (each exits 0, printing 0: a detached job's status), then the connection is gone."""

    target = Target("h1", "192.0.2.1")

    def __init__(self, lives: int) -> None:
        self.lives, self.commands = lives, []

    def run(self, command: str, timeout: float = 0, become: bool | None = None) -> CommandResult:
        self.commands.append(command)
        if len(self.commands) > self.lives:
            raise Unreachable("h1", "connection lost while running a command: EOF", "the outcome is unknown")
        return CommandResult(command, 0, "0\n", "", 0.0)


def test_a_connection_lost_mid_step_leaves_that_step_unknown_and_stops() -> None:
    steps = plan(replace(recorded("lab-el6-full"), services={}), runtime.desired("el6", LAB_VARS, "vfs"))
    session = LosingSession(lives=2)  # the first step (a detached yum install: launch, poll), then lost
    results = execute(session, steps)
    assert [(r.name, r.status) for r in results] == [(steps.operations[0].name, CHANGED),
                                                     (steps.operations[1].name, UNKNOWN)]  # fmt: skip
    assert results[1].msg.startswith("connection lost") and results[1].hint == "the outcome is unknown"
    assert len(session.commands) == 3, "no start or restart is tried over a lost connection"


@pytest.mark.skipif(os.geteuid() != 0, reason="the command chowns to root, as it does on a host")
def test_atomic_write_command_really_writes_atomically(tmp_path: Path) -> None:
    """The write command itself, run by a local sh: content, mode, backup, no temp file left."""
    target = tmp_path / "etc" / "dir with space" / "daemon.json"
    target.parent.mkdir(parents=True)
    target.write_text("old\n")
    content = '{"a": "it\'s $(not) `run`"}\n'
    command, backup = write_file_command(ManagedFile(str(target), content, mode=0o640, owner="root", group="root"))
    subprocess.run(["sh", "-c", command], check=True)
    assert target.read_text() == content
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert Path(backup).read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["daemon.json", "daemon.json.pyinstall-backup"]


def test_urls_with_passwords_are_masked() -> None:
    assert mask("baseurl=https://deploy:s3cret@mirror.example.com/epel") == (
        "baseurl=https://deploy:********@mirror.example.com/epel"
    )


HOSTILE = ["$(touch /tmp/pwned)", "`touch /tmp/pwned`", "x; touch /tmp/pwned", "it's", 'a"b', "line\nbreak"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_or_inert(value: str) -> None:
    for var in ("docker_version", "docker_package"):
        with pytest.raises(PlanError, match=var):
            runtime.desired("el6", {**LAB_VARS, var: value}, "vfs")
    with pytest.raises(PlanError, match="not a plain URL"):
        runtime.desired("el6", {**LAB_VARS, "yum_mirror": f"http://mirror/{value}"}, "vfs")
    with pytest.raises(PlanError, match="cannot be passed on EL6's command line"):
        runtime.desired("el6", {**LAB_VARS, "docker_daemon_options": {"labels": [value]}}, "vfs")
    # On EL7 the value lands in daemon.json, as JSON, through base64: inert.
    el7 = runtime.desired("el7", {**LAB_VARS, "docker_daemon_options": {"labels": [value]}}, "vfs")
    assert json.loads(el7.config_file.content)["labels"] == [value]
    command, _ = write_file_command(el7.config_file)
    assert value not in command


@pytest.mark.skipif(os.geteuid() != 0, reason="the command chowns to root, as it does on a host")
def test_a_planted_symlink_at_the_backup_path_is_replaced_not_followed(tmp_path: Path) -> None:
    target, victim = tmp_path / "daemon.json", tmp_path / "victim"
    target.write_text("old\n")
    victim.write_text("precious\n")
    (tmp_path / "daemon.json.pyinstall-backup").symlink_to(victim)
    command, backup = write_file_command(ManagedFile(str(target), "new\n"))
    subprocess.run(["sh", "-c", command], check=True)
    assert victim.read_text() == "precious\n"
    assert not Path(backup).is_symlink() and Path(backup).read_text() == "old\n"
    assert target.read_text() == "new\n"
