"""Operations on recorded facts: which commands a host needs, from its facts and its variables."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from installer import asked, checks, daemon_options, executor, facts, host_run, platforms, runtime
from installer import plan as plan_module
from installer.asked import AskedError
from installer.connection import CommandResult, Target
from installer.errors import CommandTimeout, HostHung, Unreachable
from installer.executor import CHANGED, LOST, UNKNOWN, daemon_reason, execute, mask, poll_intervals, run_detached
from installer.interrupts import Interrupted
from installer.outcome import Status
from installer.plan import Plan, plan, tagged, write_file_command
from installer.runtime import ManagedFile
from tests.lab import spec as lab_spec

FACTS = Path(__file__).parent / "facts"
STAMP = "20261201T000000Z"
LAB_VARS = lab_spec.LAB_VARS


def desired(platform_id: str, variables: dict, default_driver: str) -> runtime.Desired:
    """What a host of the platform is asked for, as provision computes it (the pin taken as resolved)."""
    a = asked.parse("h1", variables)
    platform = platforms.by_id(platform_id)
    s = checks.Subject(facts.Facts(), a, platform, platform.channel_for(a.package, a.channel),
                       a.storage_driver or default_driver)  # fmt: skip
    return runtime.desired(s, s.pin)


def findings(name: str, variables: dict, **changes) -> set[str]:
    """The error codes preflight reports for recorded facts and these variables."""
    f = replace(recorded(name), **changes)
    return {x.code for x in checks.run_checks(f, asked.parse("h1", variables)) if x.level == checks.ERROR}


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
    wanted = desired("el6", {**LAB_VARS, "docker_storage_driver": "vfs"}, "devicemapper")
    steps = plan(fresh, wanted)
    assert names(steps) == [
        "write repository /etc/yum.repos.d/pyinstall-epel.repo",
        "update device-mapper-libs",
        "install libcgroup, yum-plugin-downloadonly",
        "enable cgconfig",
        "start cgconfig",
        "install docker-io 20.10.24",
        "write daemon configuration /etc/sysconfig/docker",
        "write kernel settings /etc/sysctl.d/90-pyinstall-docker.conf",
        "write kernel module loaded at boot /etc/sysconfig/modules/pyinstall-docker.modules",
        "set the kernel settings Docker needs",
        "enable docker",
        "start docker",
    ]
    install = next(op for op in steps.operations if op.name.startswith("install docker-io"))
    assert yum_part(install.commands[0]).startswith("yum -y install docker-io-20.10.24; ") and install.restarts
    assert "rpm -q docker-io-20.10.24 " in install.commands[0], "a yum that installs nothing is a failure"
    repo = wanted.files[0].content
    assert "baseurl=file:///srv/lab-repo/epel/6/$basearch\n" in repo and "gpgcheck=0" in repo


def test_tags_keep_their_part_of_the_play_and_the_restart_follows_a_change() -> None:
    fresh = replace(recorded("lab-el6-full"), services={})
    steps = plan(fresh, desired("el6", {**LAB_VARS, "docker_storage_driver": "vfs"}, "devicemapper"))
    assert [op.tag for op in steps.operations] == ["repo", "packages", "packages", "cgroups", "cgroups", "packages",
                                                   "config", "sysctl", "sysctl", "sysctl", "service"]  # fmt: skip
    assert names(tagged(steps, frozenset({"config"}))) == ["write daemon configuration /etc/sysconfig/docker"]
    assert names(tagged(steps, frozenset({"repo", "cgroups"}))) == [
        "write repository /etc/yum.repos.d/pyinstall-epel.repo", "enable cgconfig", "start cgconfig"
    ]  # fmt: skip
    assert "start docker" not in names(tagged(steps, None, frozenset({"service"})))
    assert names(tagged(steps, None)) == names(steps)
    running = recorded("lab-el7-provisioned")  # provisioned and running: a config change restarts it
    changed = desired("el7", {**LAB_VARS, "docker_daemon_options": {"debug": True}}, "overlay2")
    assert names(tagged(plan(running, changed), frozenset({"config"}))) == [
        "write daemon configuration /etc/docker/daemon.json", "restart docker"
    ]  # fmt: skip
    assert names(tagged(plan(running, changed), frozenset({"packages"}))) == []


def test_a_mirror_keeps_signature_checks_with_the_upstream_keys() -> None:
    mirrored = desired("el6", {"yum_mirror": "https://mirror.example.com/"}, "devicemapper").files[0].content
    assert "baseurl=https://mirror.example.com/epel/6/$basearch\n" in mirrored and "gpgcheck=1\n" in mirrored
    assert "gpgkey=https://archives.fedoraproject.org/pub/archive/epel/RPM-GPG-KEY-EPEL-6" in mirrored
    variables = {"yum_mirror": "https://m", "yum_repos": {"epel": {"sslverify": False, "priority": 5}}}
    tuned = desired("el6", variables, "devicemapper").files[0].content
    assert "\npriority=5\nsslverify=0\n" in tuned
    secret = desired("el6", {"yum_repos": {"epel": {"password": "s3cret"}}}, "devicemapper").files[0]
    assert secret.mode == 0o600
    write = plan(recorded("lab-el6-full"), desired("el6", {"yum_repos": {"epel": {"password": "s3cret"}}},
                 "devicemapper"), STAMP).operations[0]  # fmt: skip
    assert "s3cret" not in write.diff
    encoded = base64.b64encode(secret.content.encode()).decode()
    assert encoded in write.commands[0], "the host gets the file"
    assert encoded not in write.shown[0] and "<secret content>" in write.shown[0], "-v and logs never see it"
    (task,) = execute(None, replace(Plan(), operations=[write]), check=True)
    assert encoded not in "".join(task.commands)


def test_provisioned_hosts_need_nothing() -> None:
    el6 = desired("el6", {**LAB_VARS, "docker_storage_driver": "vfs"}, "devicemapper")
    assert not plan(recorded("lab-el6-provisioned"), el6)
    el7 = desired("el7", {**LAB_VARS, "docker_storage_driver": "overlay2"}, "overlay2")
    assert not plan(recorded("lab-el7-provisioned"), el7)


def test_a_changed_option_rewrites_the_file_and_restarts_once() -> None:
    variables = {**LAB_VARS, "docker_storage_driver": "overlay2"}
    variables["docker_daemon_options"] = {**variables["docker_daemon_options"], "debug": True}
    steps = plan(recorded("lab-el7-provisioned"), desired("el7", variables, "overlay2"))
    assert names(steps) == ["write daemon configuration /etc/docker/daemon.json", "restart docker"]
    assert '+  "debug": true,' in steps.operations[0].diff
    assert steps.operations[0].backup.startswith("/etc/docker/daemon.json.pyinstall-backup.")


def test_el6_flags_and_el7_json() -> None:
    variables = {
        "docker_storage_driver": "devicemapper",
        "docker_storage_options": "dm.basesize=20G dm.loopdatasize=200G",
    }
    el6 = desired("el6", variables, "devicemapper")
    (line,) = [x for x in el6.config_file.content.splitlines() if x.startswith("other_args=")]
    assert (
        line.startswith("other_args='") and "--storage-opt=dm.basesize=20G --storage-opt=dm.loopdatasize=200G" in line
    )
    # EPEL's 1.7.1 has neither live-restore (1.12) nor no-new-privileges (17.05).
    assert "--live-restore" not in line and "--no-new-privileges" not in line and "--icc=false" in line
    assert el6.repos[0].baseurl.startswith("https://archives.fedoraproject.org/pub/archive/epel/6/")
    el7 = desired("el7", {"docker_daemon_options": {"live-restore": None}}, "overlay2")
    options = json.loads(el7.config_file.content)
    assert "live-restore" not in options and options["storage-driver"] == "overlay2" and options["icc"] is False
    assert el7.package == "docker-ce" and el7.installs == (
        "docker-ce-20.10.24",
        "docker-ce-cli-20.10.24",
        "containerd.io",
    )
    extras = desired("el7", {"docker_package": "docker"}, "overlay2")
    assert extras.repos == () and "docker-ce" in extras.remove and extras.version == "1.13.1"
    assert extras.installs == ("docker-1.13.1",)


def test_the_extras_channel_writes_its_environment_files_without_what_daemon_json_sets() -> None:
    """Red Hat's package ships OPTIONS='--selinux-enabled --log-driver=journald --signature-verification=false'
    and a docker-storage-setup that writes a storage driver: daemon.json sets log-driver and storage-driver,
    so those go; the fork's own flags stay."""
    extras = desired("el7", {"docker_package": "docker"}, "overlay2")
    written = {f.path: daemon_options.read_environment(f.content) for f in extras.files if f.restarts_daemon}
    assert written["/etc/sysconfig/docker"]["OPTIONS"] == "--selinux-enabled --signature-verification=false"
    assert written["/etc/sysconfig/docker-storage"] == {"DOCKER_STORAGE_OPTIONS": ""}
    assert written["/etc/sysconfig/docker-storage-setup"] == {"STORAGE_DRIVER": ""}
    # Dropping log-driver's default gives the package's journald back (null drops a default).
    own = desired("el7", {"docker_package": "docker", "docker_daemon_options": {"log-driver": None}}, "overlay2")
    (sysconfig,) = [f for f in own.files if f.path == "/etc/sysconfig/docker"]
    assert "--log-driver=journald" in daemon_options.read_environment(sysconfig.content)["OPTIONS"]
    assert "log-driver" not in json.loads(own.config_file.content)
    # docker-ce's unit reads none of them.
    assert [f.path for f in desired("el7", {}, "overlay2").files if f.restarts_daemon] == ["/etc/docker/daemon.json"]


def test_a_flag_is_taken_out_with_its_value() -> None:
    keys = {"log-driver", "selinux-enabled", "storage-opts", "storage-driver"}
    assert daemon_options.without_flags("--log-driver journald --debug --storage-opt a=b -H x", keys) == "--debug -H x"
    assert daemon_options.without_flags("--selinux-enabled --storage-driver=overlay2 --label x", keys) == "--label x"
    assert daemon_options.without_flags("'--label=a b'", set()) == "'--label=a b'"


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"docker_daemon_options": {"iptables": False}}, "icc: false and iptables: false"),
        ({"docker_daemon_options": "icc=false"}, "is not a mapping"),
        ({"docker_daemon_options": {"log-levle": "warn"}}, "did you mean log-level"),
        ({"docker_daemon_options": {"log-opts": {"max-file": 3}}}, "quote them"),
        ({"docker_daemon_options": {"hosts": ["tcp://0.0.0.0:2375"]}}, "without TLS"),
        ({"docker_storage_driver": "aufs"}, "not a storage driver"),
        ({"docker_version": "abc"}, "a digit first"),
        ({"docker_version": 1.1}, "reads as the number 1.1"),
        ({"yum_repos": {"../x": {}}}, "not a repository pyinstall configures"),
        ({"yum_repos": {"epel": {"name": "a\n[evil]\nbaseurl=http://x"}}}, "one line"),
        ({"yum_repos": {"epel": {"id": "x"}}}, "not a yum repository field"),
        ({"yum_repos": {"epel": "https://x"}}, "not a mapping of yum fields"),
        ({"yum_lock_timeout": "soon"}, "not a whole number"),
    ],
)
def test_impossible_requests_are_refused_before_any_host_is_contacted(variables: dict, message: str) -> None:
    with pytest.raises(AskedError, match=message) as exc:
        asked.parse("h1", variables, origin=lambda v: f"inventory.ini:{len(v)}")
    assert exc.value.variable in variables and exc.value.message.startswith("inventory.ini:")


@pytest.mark.parametrize(
    "variables, code",
    [
        ({"docker_daemon_options": {"live-restore": True}, "docker_version": "1.7.1"}, "DAEMON_OPTION"),
        ({"docker_daemon_options": {"labels": ["a b"]}}, "DAEMON_OPTION"),
        ({"docker_daemon_options": {"default-address-pools": [{"base": "10.0.0.0/8", "size": 24}]}}, "DAEMON_OPTION"),
        ({"docker_package": "docker-ce"}, "PACKAGE"),
        ({"docker_storage_driver": "overlay2"}, "OVERLAY_EL6"),
    ],
)
def test_what_an_el6_host_cannot_take_is_a_preflight_error(variables: dict, code: str) -> None:
    assert code in findings("lab-el6-full", {**LAB_VARS, **variables})


def test_switching_storage_driver_over_existing_data_is_refused() -> None:
    used = ["overlay2", "image", "containers"]
    assert "STORE_IN_USE" in findings("lab-el7-provisioned", {**LAB_VARS, "docker_storage_driver": "devicemapper"},
                                      docker_store_entries=used)  # fmt: skip


def test_an_option_set_twice_is_named_with_its_file() -> None:
    config = {"/etc/systemd/system/docker.service.d/override.conf": "[Service]\nExecStart=\n"
              "ExecStart=/usr/bin/dockerd --storage-driver=devicemapper\n"}  # fmt: skip
    f = replace(recorded("lab-el7-provisioned"), docker_config=config)
    found = next(x for x in checks.run_checks(f, asked.parse("h1", LAB_VARS)) if x.code == "FOREIGN_CONFIG")
    assert "override.conf: --storage-driver" in found.message and "single source of truth" in found.hint


def test_version_pin_downgrades_and_upgrades() -> None:
    f = recorded("lab-el6-provisioned")
    older = plan(f, desired("el6", {**LAB_VARS, "docker_version": "1.7.1", "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    keep, downgrade = older.operations[:2]
    assert yum_part(downgrade.commands[0]).startswith("yum -y downgrade docker-io-1.7.1; rpm -q ")
    # First the installed build's own RPM file, the daemon's files and the containers, for a rollback.
    assert keep.keeps and not keep.runtime and downgrade.runtime
    assert (
        "--downloadonly --downloaddir=/var/lib/pyinstall/rollback/rpms reinstall docker-io-20.10.24-1.el6.x86_64"
        in (keep.commands[0])
    )
    assert "tar -C / -cpf" in keep.commands[0] and "docker ps -q --no-trunc" in keep.commands[0]
    assert "rpm -U --oldpackage" in older.previous.rollback and "yum" not in older.previous.rollback
    assert older.previous.packages == ("docker-io-20.10.24-1.el6.x86_64",)
    newer = plan(f, desired("el6", {**LAB_VARS, "docker_version": "24.0.7", "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    assert yum_part(newer.operations[1].commands[0]).startswith("yum -y install docker-io-24.0.7; rpm -q ")
    assert newer.restart.commands[0].endswith("; rm -rf /var/lib/pyinstall/rollback"), "kept until the daemon runs"
    # A configuration change alone keeps nothing.
    options = {**LAB_VARS, "docker_storage_driver": "vfs", "docker_daemon_options": {"debug": True}}
    assert not any(op.keeps for op in plan(f, desired("el6", options, "devicemapper")).operations)


def test_values_are_quoted_in_commands() -> None:
    f = replace(recorded("lab-el6-full"), services={})
    hostile = "20.10.24~rc1^git1"  # a legal RPM version whose characters a shell could misread unquoted
    steps = plan(f, desired("el6", {**LAB_VARS, "docker_version": hostile, "docker_storage_driver": "vfs"},
                                    "devicemapper"))  # fmt: skip
    install = next(op for op in steps.operations if op.name.startswith("install docker-io"))
    assert shlex.split(yum_part(install.commands[0]).split(";")[0]) == ["yum", "-y", "install", f"docker-io-{hostile}"]


def test_check_mode_runs_nothing() -> None:
    steps = plan(replace(recorded("lab-el6-full"), services={}), desired("el6", LAB_VARS, "vfs"))
    results = execute(None, steps, check=True)
    assert {r.status for r in results} == {"would change"} and len(results) == len(names(steps))


class LosingSession:
    """Answers ``lives`` commands (each exits 0; a poll finds the detached job done with status 0), then the
    connection is gone."""

    target = Target("h1", "192.0.2.1")

    def __init__(self, lives: int) -> None:
        self.lives, self.commands = lives, []

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        if len(self.commands) > self.lives:
            raise Unreachable("h1", "connection lost while running a command: EOF", "the outcome is unknown")
        return CommandResult(command, 0, "done\n0\n", "", 0.0)


class InterruptedSession(LosingSession):
    """Ctrl-C arrives while the command after ``lives`` waits: the session raises Interrupted, as
    connection.Session does once its stop event is set; the job-settling command says the job was killed."""

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        if "pkill -KILL -s" in command:
            return CommandResult(command, 0, "killed\n", "", 0.0)
        if len(self.commands) > self.lives:
            raise Interrupted("interrupted (Ctrl-C) while waiting for a command to finish")
        return CommandResult(command, 0, "done\n0\n", "", 0.0)


def test_ctrl_c_in_a_step_ends_the_run_there_without_a_restart_or_a_rollback() -> None:
    steps = plan(replace(recorded("lab-el6-full"), services={}), desired("el6", LAB_VARS, "vfs"))
    session = InterruptedSession(lives=1)  # the repository file, then the yum transaction's wait
    results = execute(session, steps)
    assert [r.status for r in results[:2]] == [CHANGED, Status.INTERRUPTED]
    assert "waiting for the package manager's lock: the transaction never started, nothing changed" in results[1].msg
    assert {r.status for r in results[2:]} == {Status.SKIPPED} and len(results) == len(steps.operations)
    assert not any("docker start" in c or "service docker" in c for c in session.commands)
    run = host_run.HostRun("h1", Status.OK, tasks=results)
    assert host_run.settled(run) and run.status == Status.INTERRUPTED
    assert run.error.startswith(steps.operations[1].name + ": interrupted (Ctrl-C)")


def test_a_connection_lost_mid_step_leaves_that_step_unknown_and_stops(monkeypatch) -> None:
    monkeypatch.setattr(executor, "REBOOT_WINDOW", 0)  # no waiting for the host to come back
    steps = plan(replace(recorded("lab-el6-full"), services={}), desired("el6", LAB_VARS, "vfs"))
    session = LosingSession(lives=1)  # the first step (a repository file), then lost
    results = execute(session, steps)
    assert [(r.name, r.status) for r in results] == [(steps.operations[0].name, CHANGED),
                                                     (steps.operations[1].name, UNKNOWN)]  # fmt: skip
    assert steps.operations[1].detached, "lost while launching (and waiting for) a yum transaction"
    assert "connection lost" in results[1].msg, results[1].msg
    assert len(session.commands) == 2, "no start or restart is tried over a lost connection"


@pytest.mark.skipif(os.geteuid() != 0, reason="the command chowns to root, as it does on a host")
def test_atomic_write_command_really_writes_atomically(tmp_path: Path) -> None:
    """The write command itself, run by a local sh: content, mode, backup, no temp file left."""
    target = tmp_path / "etc" / "dir with space" / "daemon.json"
    target.parent.mkdir(parents=True)
    target.write_text("old\n")
    content = '{"a": "it\'s $(not) `run`"}\n'
    command, backup = write_file_command(ManagedFile(str(target), content, mode=0o640, owner="root", group="root"),
                                         STAMP)  # fmt: skip
    state = local(command, tmp_path)
    assert target.read_text() == content
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert Path(backup).read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["daemon.json", f"daemon.json.pyinstall-backup.{STAMP}"]
    assert (state / "ledger").read_text() == f"file {target}\n", "the file is in the ledger, once"
    local(command, tmp_path)
    assert (state / "ledger").read_text() == f"file {target}\n"
    assert oct((state / "ledger").stat().st_mode & 0o777) == "0o600" and oct(state.stat().st_mode & 0o777) == "0o700"


def local(command: str, tmp_path: Path) -> Path:
    """Run a host command with this machine's sh, its state directory (the ledger) under ``tmp_path``."""
    state = tmp_path / "state"
    subprocess.run(["sh", "-c", command.replace(plan_module.STATE_DIR, str(state))], check=True)
    return state


@pytest.mark.skipif(os.geteuid() != 0, reason="the command chowns to root, as it does on a host")
def test_backups_are_timestamped_and_the_last_five_kept(tmp_path: Path) -> None:
    target = tmp_path / "daemon.json"
    target.write_text("the user's original\n")
    for run in range(7):
        command, _ = write_file_command(ManagedFile(str(target), f"run {run}\n"), f"2026120{run}T000000Z")
        local(command, tmp_path)
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("daemon.json", "state"))
    assert backups == [f"daemon.json.pyinstall-backup.2026120{run}T000000Z" for run in range(2, 7)]
    assert (tmp_path / backups[-1]).read_text() == "run 5\n"


def test_urls_with_passwords_are_masked() -> None:
    assert mask("baseurl=https://deploy:s3cret@mirror.example.com/epel") == (
        "baseurl=https://deploy:********@mirror.example.com/epel"
    )


HOSTILE = ["$(touch /tmp/pwned)", "`touch /tmp/pwned`", "x; touch /tmp/pwned", "it's", 'a"b', "line\nbreak"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_or_inert(value: str) -> None:
    for var in ("docker_version", "docker_package", "yum_mirror"):
        with pytest.raises(AskedError, match=var):
            asked.parse("h1", {**LAB_VARS, var: value if var != "yum_mirror" else f"http://mirror/{value}"})
    labels = {**LAB_VARS, "docker_daemon_options": {"labels": [value]}}
    if not value.isprintable():
        with pytest.raises(AskedError, match="docker_daemon_options"):
            asked.parse("h1", labels)
        return
    assert "DAEMON_OPTION" in findings("lab-el6-full", labels)  # EL6's other_args would word-split it
    # On EL7 the value lands in daemon.json, as JSON, through base64: inert.
    el7 = desired("el7", labels, "vfs")
    assert json.loads(el7.config_file.content)["labels"] == [value]
    command, _ = write_file_command(el7.config_file, STAMP)
    assert value not in command


@pytest.mark.skipif(os.geteuid() != 0, reason="the command chowns to root, as it does on a host")
def test_a_planted_symlink_at_the_backup_path_is_replaced_not_followed(tmp_path: Path) -> None:
    target, victim = tmp_path / "daemon.json", tmp_path / "victim"
    target.write_text("old\n")
    victim.write_text("precious\n")
    (tmp_path / f"daemon.json.pyinstall-backup.{STAMP}").symlink_to(victim)
    command, backup = write_file_command(ManagedFile(str(target), "new\n"), STAMP)
    local(command, tmp_path)
    assert victim.read_text() == "precious\n"
    assert not Path(backup).is_symlink() and Path(backup).read_text() == "old\n"
    assert target.read_text() == "new\n"


@pytest.mark.parametrize(
    "log, reason",
    [
        ('time="x" level=info msg="Starting up"\nfailed to start daemon: error initializing graphdriver: driver not '
         'supported\ntime="x" level=info msg="stopped"', "failed to start daemon: error initializing graphdriver"),
        ('INFO[0000] Listening\nFATA[0000] Error starting daemon: error initializing graphdriver: "/var/lib/docker" '
         "contains other graphdrivers", "FATA[0000] Error starting daemon: error initializing graphdriver"),
        ('time="x" level=info msg="Starting up"\nunable to parse logging level: loud\n\n',
         "unable to parse logging level: loud"),
    ],
)  # fmt: skip
def test_the_daemons_reason_is_its_fatal_line_or_its_last_words(log: str, reason: str) -> None:
    assert daemon_reason(log).startswith(reason)


def test_options_are_gated_on_the_docker_version_never_on_the_package_epoch() -> None:
    """CentOS's docker is 2:1.13.1: its epoch must not make it look newer than 17.05."""
    extras = replace(recorded("lab-el7-full"), packages={"docker": "2:1.13.1-209.git7d71120.el7.centos.x86_64"})
    model = asked.parse("h1", {**LAB_VARS, "docker_package": "docker", "docker_version": "1.13.1"})
    s = checks.subject(extras, model)
    assert s.version == "1.13.1-209.git7d71120.el7.centos"
    assert s.platform and s.channel and s.storage_driver
    options = json.loads(runtime.desired(s).config_file.content)
    assert "no-new-privileges" not in options and options["live-restore"] is True
    resolved = replace(recorded("lab-el7-full"), available=["3:20.10.24-3.el7", "3:20.10.23-3.el7"])
    assert checks.subject(resolved, asked.parse("h1", LAB_VARS)).version == "20.10.24-3.el7"


def test_a_poll_that_gets_no_answer_means_the_host_stopped_answering() -> None:
    """Whether a host hangs between two polls (no session opens) or during one (the poll times out), the
    step's outcome is unknown and the operator reads the same words."""

    class HangingSession(LosingSession):
        def run(
            self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
        ) -> CommandResult:
            self.commands.append(command)
            if len(self.commands) > 1:
                raise CommandTimeout("h1", "command did not finish within 30s", "the host may be overloaded")
            return CommandResult(command, 0, "", "", 0.0)

    with pytest.raises(Unreachable, match="the host stopped answering") as exc:
        run_detached(HangingSession(lives=1), "yum -y install docker-io", timeout=60)
    assert exc.value.hint == "the outcome on the host is unknown; check it, then run again"


def test_a_drop_in_whose_name_holds_a_space_is_still_read() -> None:
    digest = "a" * 64
    path = "/etc/systemd/system/docker.service.d/my override.conf"
    text = f"== {path} {digest}\nExecStart=/usr/bin/dockerd --log-driver=journald\n"
    sums: dict[str, str] = {}
    config = facts.parse_docker_config(text, sums)
    assert sums == {path: digest} and "--log-driver" in config[path]
    f = replace(recorded("lab-el7-provisioned"), docker_config=config)
    found = next(x for x in checks.run_checks(f, asked.parse("h1", LAB_VARS)) if x.code == "FOREIGN_CONFIG")
    assert "my override.conf: --log-driver" in found.message


class ScriptedSession(LosingSession):
    """Answers each command with the next of ``answers`` (stdout), recording the commands."""

    def __init__(self, *answers: str) -> None:
        super().__init__(lives=len(answers))
        self.answers = list(answers)

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        super().run(command, timeout, become)
        return CommandResult(command, 0, self.answers[len(self.commands) - 1], "", 0.0)


def test_a_job_is_waited_for_on_the_host_and_a_lost_one_said_at_once() -> None:
    done = ScriptedSession("running\n", "done\n0\nInstalled: docker-io\n")
    result = run_detached(done, "yum -y install docker-io", timeout=60, poll=0.01)
    assert (result.rc, result.stdout) == (0, "Installed: docker-io\n")
    assert len(done.commands) == 2, "launched and waited for in one command, then waited for again"
    assert "setsid" in done.commands[0] and "sleep 0.25" in done.commands[0] and "setsid" not in done.commands[1]
    _, _, removed = done.commands[1].partition('cat "$j.rc" "$j.log"; rm -f')
    assert removed and '"$j.log"' not in removed.split(";")[0], "the status goes once printed; the log stays"
    lost = ScriptedSession("lost\nDownloading packages:\n")
    result = run_detached(lost, "yum -y install docker-io", timeout=60, poll=0.01)
    assert result.rc == LOST and "the transaction was killed before it finished" in result.stderr
    assert result.stdout == "Downloading packages:\n", "the end of its log is shown"
    assert "boot_id" in lost.commands[0], "a new boot id means the job died with the old boot"


class RebootingSession(ScriptedSession):
    """Launches, then is unreachable for ``down`` polls (the host rebooting), then answers ``after``."""

    def __init__(self, down: int, after: str) -> None:
        super().__init__("", *([""] * down), after)
        self.down = down

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        if 1 < len(self.commands) + 1 <= 1 + self.down:
            self.commands.append(command)
            raise Unreachable("h1", "cannot connect to 192.0.2.1:22: Connection refused", "is sshd running?")
        return super().run(command, timeout, become)


def test_a_host_that_reboots_mid_job_is_polled_again_and_the_reboot_said() -> None:
    session = RebootingSession(down=3, after="rebooted\nRunning transaction\n")
    result = run_detached(session, "yum -y install docker-io", timeout=60, poll=0.01)
    assert result.rc == LOST and "the host rebooted before it finished" in result.stderr, result
    assert len(session.commands) == 5, "the launch, three polls while it was down, one after"


def test_a_host_that_does_not_come_back_is_unreachable_after_the_window(monkeypatch) -> None:
    monkeypatch.setattr(executor, "REBOOT_WINDOW", 0.05)
    session = RebootingSession(down=10**6, after="")
    with pytest.raises(Unreachable, match=r"did not come back within 0\.05s") as exc:
        run_detached(session, "yum -y install docker-io", timeout=60, poll=0.01)
    assert exc.value.hint == "the outcome on the host is unknown; check it, then run again"


def test_polls_back_off_after_the_first_ten_seconds() -> None:
    waits = list(itertools.islice(poll_intervals(), 15))
    assert waits == [1.0] * 10 + [2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_hung_host_is_not_waited_for_as_if_it_rebooted(monkeypatch) -> None:
    """The connection is up but no session opens: the host hangs, it is not rebooting."""
    monkeypatch.setattr(executor, "REBOOT_WINDOW", 30.0)

    class HungSession(LosingSession):
        def run(
            self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
        ) -> CommandResult:
            self.commands.append(command)
            if len(self.commands) > 1:
                raise HostHung("h1", "the host stopped answering (no session opened within 10s)", "unknown")
            return CommandResult(command, 0, "", "", 0.0)

    session = HungSession(lives=1)
    with pytest.raises(HostHung):
        run_detached(session, "yum -y install docker-io", timeout=60, poll=0.01)
    assert len(session.commands) == 2, "told at the first poll"


def test_removal_takes_off_what_provision_put_there_and_nothing_when_it_is_gone() -> None:
    from installer.remove import removal

    host = recorded("lab-el7-provisioned")
    wanted = desired("el7", LAB_VARS, "overlay2")
    steps = removal(host, wanted, stamp="S")
    assert names(steps) == [
        "stop docker", "disable docker", "remove repository /etc/yum.repos.d/pyinstall-docker-ce-stable.repo",
        "remove daemon configuration /etc/docker/daemon.json",
        "remove kernel settings /etc/sysctl.d/90-pyinstall-docker.conf",
        "remove kernel module loaded at boot /etc/modules-load.d/pyinstall-docker.conf",
        "remove docker-ce, docker-ce-cli, containerd.io",
        "remove pyinstall's own state (/var/lib/pyinstall, its ledger and jobs)",
    ]  # fmt: skip
    config = steps.operations[3]
    path = "/etc/docker/daemon.json"
    kept = f"{path}.pyinstall-backup.S"
    assert config.commands == (f"if [ -e {path} ]; then ln -f {path} {kept} && rm -f {path}; fi",)
    assert "yum -y remove docker-ce docker-ce-cli containerd.io" in steps.operations[-2].commands[0]
    purged = removal(host, wanted, purge_data=True, stamp="S")
    assert names(purged)[-2] == "remove Docker's data in /var/lib/docker"
    gone = replace(host, services={}, packages={}, docker_config={}, repo_files={}, file_sums={}, day_two_files={},
                   docker_store_entries=[], state_dirs=[])  # fmt: skip
    assert names(removal(gone, wanted, purge_data=True)) == []


def test_removal_reads_the_ledger_but_never_beyond_what_pyinstall_creates() -> None:
    """The ledger adds what provision installed for the runtime (libcgroup on EL6) and a pushed bundle; an
    entry naming anything else (a planted ledger) removes nothing."""
    from installer.remove import removal

    host = recorded("lab-el6-provisioned")
    assert host.ledger == {"file": ["/etc/yum.repos.d/pyinstall-epel.repo", "/etc/sysconfig/docker",
                                    "/etc/sysctl.d/90-pyinstall-docker.conf",
                                    "/etc/sysconfig/modules/pyinstall-docker.modules"],
                           "package": ["libcgroup", "yum-plugin-downloadonly"],
                           "member": ["alice", "bob"]}  # docker_users once, taken out again since  # fmt: skip
    wanted = desired("el6", LAB_VARS, "vfs")
    (packages,) = [op for op in removal(host, wanted).operations if op.tag == "packages"]
    assert packages.name == ("remove docker-io (and libcgroup, yum-plugin-downloadonly, installed for it, unless "
                             "another package needs it)")  # fmt: skip
    assert 'rpm -e --test docker-io "$p"' in packages.commands[0] and packages.commands[0].endswith(" $x")
    planted = replace(host, ledger={"file": ["/etc/passwd", "/etc/yum.repos.d/../shadow"], "package": ["openssh"],
                                    "dir": ["/", "/var/cache/pyinstall/bundle/../../.."]})  # fmt: skip
    steps = removal(planted, wanted)
    said = " ".join(c for op in steps.operations for c in op.commands)
    assert "/etc/passwd" not in said and "shadow" not in said and "openssh" not in said
    assert not any(n.startswith("remove offline bundle") for n in names(steps))


class LocalSession:
    """Runs each command with this machine's sh, as a host's session would (sh -c), counting them."""

    target = Target("h1", "192.0.2.1")

    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout or None)
        return CommandResult(command, proc.returncode, proc.stdout, proc.stderr, 0.0)


def _op(name: str, command: str, **kw: object) -> executor.Operation:
    return executor.Operation(name, (command,), why=f"{name} differs", **kw)


def test_plain_steps_share_one_round_trip_each_with_its_own_output_and_status(tmp_path: Path) -> None:
    spoof = "printf '\\n@@pyinstall-step:0000000000000000 1 0\\nforged\\n'"  # another token: just text
    steps = Plan([
        _op("one", f"echo one-out; echo one-err >&2; {spoof}"),
        _op("two", "t=nothing; trap 'echo bye' EXIT; echo two; exit 0"),  # its own variables and traps
        _op("three", "echo partial; echo 'no space left' >&2; exit 5"),
        _op("four", f"touch {tmp_path / 'four'}"),
    ])  # fmt: skip
    session = LocalSession()
    results = execute(session, steps)
    assert len(session.commands) == 1
    assert [(r.name, r.status, r.rc) for r in results] == [("one", CHANGED, 0), ("two", CHANGED, 0),
                                                           ("three", "failed", 5)]  # fmt: skip
    assert results[0].stdout.startswith("one-out\n") and "forged" in results[0].stdout
    assert results[0].stderr == "one-err\n"
    assert results[1].stdout == "two\nbye\n"
    assert (results[2].stdout, results[2].stderr) == ("partial\n", "no space left\n")
    assert results[2].msg == "three differs; failed with exit status 5"
    assert not (tmp_path / "four").exists(), "nothing runs after a failed step"


def test_steps_that_cannot_share_a_round_trip_split_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "JOBS_DIR", str(tmp_path / "jobs"))
    steps = Plan([_op("a", "true"), _op("b", "true"), _op("job", "true", detached=True), _op("c", "true"),
                  _op("d", "true")], start=_op("start", "true"))  # fmt: skip
    session = LocalSession()
    results = execute(session, steps)
    assert [r.status for r in results] == [CHANGED] * 6
    assert len(session.commands) == 3, "a and b; the job (launched and waited for); c, d and the start"


def test_a_connection_lost_during_shared_steps_leaves_each_unknown() -> None:
    steps = Plan([_op("a", "true"), _op("b", "true")], start=_op("start", "true"))
    results = execute(LosingSession(lives=0), steps)
    assert [(r.name, r.status) for r in results] == [("a", UNKNOWN), ("b", UNKNOWN), ("start", UNKNOWN)]


class DroppingAtLaunch(ScriptedSession):
    """The connection drops while the launch waits for its job; the commands after it get ``answers[1:]``."""

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        if not self.commands:
            self.commands.append(command)
            raise Unreachable("h1", "connection lost while running a command: EOF", "the outcome is unknown")
        return super().run(command, timeout, become)


def test_a_connection_dropped_while_launching_is_waited_for_again() -> None:
    session = DroppingAtLaunch("", "done\n0\nInstalled: docker-io\n")
    result = run_detached(session, "yum -y install docker-io", timeout=60, poll=0.01)
    assert (result.rc, result.stdout) == (0, "Installed: docker-io\n")
    assert "setsid" in session.commands[0] and not any("setsid" in c for c in session.commands[1:]), "launched once"
    with pytest.raises(Unreachable, match="the host holds no trace of it") as exc:
        run_detached(DroppingAtLaunch("", "absent\n"), "yum -y install docker-io", timeout=60, poll=0.01)
    assert exc.value.hint == "the outcome on the host is unknown; check it, then run again"


def test_the_wait_says_a_job_with_no_trace_is_absent_not_rebooted(tmp_path: Path) -> None:
    """A job never launched (the connection dropped first) has no files: that is not a reboot."""
    script = executor._wait_for_job(str(tmp_path / "never-launched"))
    assert LocalSession().run(script).stdout == "absent\n"


def test_a_distribution_gets_its_own_repository_plugins_their_own_pins_and_the_install_its_options() -> None:
    """Docker serves RHEL from a repository of its own: a definition's repository with ``distributions``
    goes to those hosts only; an extra package pinned apart (``versions``) is installed at its own version,
    and ``install_options`` reach the install command."""
    el7 = platforms.by_id("el7")
    ce = el7.channels["docker-ce"]
    centos = replace(ce.repos[0], distributions=("centos", "scientific", "sl", "oracle", "ol"))
    rhel = replace(ce.repos[0], baseurl="https://download.docker.com/linux/rhel/$releasever/$basearch/stable",
                   distributions=("rhel",))  # fmt: skip
    channel = replace(ce, repos=(centos, rhel), extra_packages=(*ce.extra_packages, "docker-compose-plugin"),
                      versions={"docker-compose-plugin": "2.27.0"})  # fmt: skip
    platform = replace(el7, channels={**el7.channels, "docker-ce": channel}, install_options=("--allowerasing",))

    def wanted(distro: str) -> runtime.Desired:
        host = replace(recorded("lab-el7-full"), distro_id=distro)
        return runtime.desired(checks.Subject(host, asked.parse("h1", {}), platform, channel, "overlay2"), "20.10.24")

    assert [r.baseurl for r in wanted("rhel").repos] == [rhel.baseurl]
    assert [r.baseurl for r in wanted("centos").repos] == [centos.baseurl]
    assert [r.baseurl for r in wanted("scientific").repos] == [centos.baseurl]
    got = wanted("centos")
    assert got.installs == ("docker-ce-20.10.24", "docker-ce-cli-20.10.24", "containerd.io",
                            "docker-compose-plugin-2.27.0")  # fmt: skip
    # What verify holds each package to: the same pins.
    assert [got.pin_of(n) for n in ("docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin")] == [
        "20.10.24", "20.10.24", None, "2.27.0"]  # fmt: skip
    fresh = replace(recorded("lab-el7-full"), distro_id="centos", packages={})
    (install,) = [op for op in plan(fresh, got, STAMP).operations if op.name.startswith("install docker-ce")]
    assert " -y --allowerasing install docker-ce-20.10.24 " in yum_part(install.commands[0])


def test_a_build_for_another_release_is_replaced_by_the_hosts_own_at_the_pin() -> None:
    """An in-place OS upgrade (ELevate) leaves the old release's builds at the pinned version: not the pin
    met, but builds to replace with the host's own (``install`` would answer "already installed")."""
    old = {"docker-ce": "3:20.10.24-3.el6.x86_64", "docker-ce-cli": "1:20.10.24-3.el6.x86_64"}
    host = replace(recorded("lab-el7-full"), packages=old, available=["3:20.10.24-3.el6", "3:20.10.24-3.el7"])
    s = checks.subject(host, asked.parse("h1", LAB_VARS))
    assert (s.foreign_build, s.runs_pin, s.version) == (6, None, "20.10.24-3.el7")
    ops = plan(host, runtime.desired(s), STAMP).operations
    (replaced,) = [op for op in ops if op.name.startswith("replace docker-ce")]
    assert replaced.name == "replace docker-ce 20.10.24-3.el6 (an EL6 build) with the EL7 build of 20.10.24"
    assert replaced.why == "built for EL6, the host runs EL7"
    command = replaced.commands[0].rsplit("done; ", 1)[1]  # after the waits for every yum lock
    assert command.startswith("yum -y distro-sync docker-ce-20.10.24 docker-ce-cli-20.10.24;"), command
    assert "grep -q '[.]el7' || {" in command and "not the EL7 build of docker-ce 20.10.24" in command
    (missing,) = [op for op in ops if op.name == "install containerd.io"]
    assert missing.commands[0].rsplit("done; ", 1)[1].startswith("yum -y install containerd.io")
    # The new release's repositories do not offer the old builds: kept if they can be, never required.
    (keep,) = [op for op in ops if op.keeps]
    assert keep.why == ("docker-ce-20.10.24-3.el6.x86_64, docker-ce-cli-20.10.24-3.el6.x86_64: EL6 builds, kept if "
                        "the repositories still offer them")  # fmt: skip
    script = keep.commands[0]
    assert "exit 1" not in script and script.endswith("then exit 0; fi; rm -f /var/lib/pyinstall/rollback/rpms/*")

    built = {**old, "containerd.io": "1.6.33-3.1.el6.x86_64"}
    own = replace(host, packages={k: v.replace(".el6", ".el7") for k, v in built.items()})
    assert checks.subject(own, asked.parse("h1", LAB_VARS)).foreign_build is None
    assert not [op for op in plan(own, runtime.desired(checks.subject(own, asked.parse("h1", LAB_VARS))),
                                  STAMP).operations if op.tag == "packages"]  # fmt: skip
    findings = checks.run_checks(host, asked.parse("h1", LAB_VARS))
    (said,) = [f for f in findings if f.code == "FOREIGN_BUILD"]
    assert said.message == "docker-ce 20.10.24-3.el6 is built for EL6; this host runs EL7", said
    assert "FOREIGN_BUILD" not in {f.code for f in checks.run_checks(own, asked.parse("h1", LAB_VARS))}
