"""`check` answers exactly what `provision` would refuse: every refusal, enumerated, seen by both, and
provision changes nothing on a refused host (it runs only the commands `check` runs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from installer import asked, checks, facts, preflight, provision
from installer.bundle import Bundle
from installer.connection import CommandResult, Target
from installer.outcome import Level, Status
from tests.lab import spec as lab_spec

HERE = Path(__file__).parent
AVAILABLE = {
    "el6": "docker-io.x86_64    20.10.24-1.el6    epel\n",
    "el7": "Available Packages\ndocker-ce.x86_64    3:20.10.24-3.el7    docker-ce-stable\n",
}
LAB_VARS = {**lab_spec.LAB_VARS, "docker_storage_driver": "vfs"}
DROP_IN = "/etc/systemd/system/docker.service.d/override.conf"
BUNDLE = Bundle("el6", Path("/nonexistent"), (), ({"name": "docker-io", "epoch": None, "version": "20.10.24",
                                                  "release": "1.el6", "arch": "x86_64"},))  # fmt: skip


@dataclass
class Host:
    """A recorded host: the facts script gets its recorded answer, a version query the repositories'."""

    recorded: str
    kind: str
    replace: dict[str, str] = field(default_factory=dict)  # text substitutions in the recorded facts
    yum: tuple[int, str] | None = None  # the version query's exit status and output, when not the default

    def session(self, target: Target) -> FakeSession:
        return FakeSession(target, self)


class FakeSession:
    def __init__(self, target: Target, host: Host) -> None:
        self.target, self.host, self.commands, self.commands_run, self.target_user = target, host, [], 0, "root"
        self.noise: list[str] = []

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        self.commands_run += 1
        if "@@pyinstall-section:" in command:
            text = (HERE / "facts" / f"{self.host.recorded}.txt").read_text()
            for old, new in self.host.replace.items():
                text = text.replace(old, new)
            return CommandResult(command, 0, text, "", 0.0)
        if facts.AVAILABLE_RC in command:
            rc, out = self.host.yum or (0, AVAILABLE[self.host.kind])
            return CommandResult(command, 0, f"{out}\n{facts.AVAILABLE_RC}{rc}\n", "", 0.0)
        return CommandResult(command, 0, "", "", 0.0)  # a change: a refused host must never get here

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


EL6, EL7 = Host("lab-el6-full", "el6"), Host("lab-el7-full", "el7")
EL7_DONE = Host("lab-el7-provisioned", "el7")
REFUSALS = [
    ("OVERLAY_EL6", EL6, {"docker_storage_driver": "overlay2"}),
    ("OVERLAY_BACKING", EL7, {"docker_storage_driver": "overlay2"}),
    (
        "STORE_IN_USE",
        Host(
            "lab-el7-provisioned",
            "el7",
            {"\n@@pyinstall-section:yum_lock": "entry: overlay2\n\n@@pyinstall-section:yum_lock"},
        ),
        {},
    ),
    ("PACKAGE", EL6, {"docker_package": "docker-ce"}),
    ("VERSION_UNAVAILABLE", EL7, {"docker_version": "19.03.15"}),
    ("REPOSITORY", Host("lab-el7-full", "el7", yum=(1, "Error: Cannot retrieve repository metadata (repomd.xml)")), {}),
    ("DAEMON_OPTION", EL6, {"docker_daemon_options": {"labels": ["a b"]}}),
    # Red Hat's unit passes --exec-opt itself: in daemon.json too, dockerd would not start.
    ("DAEMON_OPTION", EL7, {"docker_package": "docker", "docker_daemon_options": {"exec-opts": ["a=b"]}}),
    ("DAEMON_OPTION", EL6, {"docker_version": "1.7.1", "docker_daemon_options": {"live-restore": True}}),
    (
        "FOREIGN_CONFIG",
        Host(
            "lab-el7-provisioned",
            "el7",
            {
                "== /etc/docker/daemon.json": f"== {DROP_IN} {'0' * 64}\n"
                "ExecStart=/usr/bin/dockerd --log-level=debug\n== /etc/docker/daemon.json"
            },
        ),
        {"docker_daemon_options": {"bridge": "none", "iptables": False, "icc": None, "log-level": "warn"}},
    ),
    ("BUNDLE_LOGIN", Host("lab-el6-full", "el6", {"login: root": "login: deploy"}), {"bundles": BUNDLE}),
    ("BUNDLE_PLATFORM", EL7, {"bundles": BUNDLE}),  # an el6 bundle only: the el7 host would use the network
    (
        "THIN_POOL",
        Host("lab-uml-el7-lvm-provisioned", "el7"),
        {"docker_storage_driver": "devicemapper", "docker_storage_options": "dm.thinpooldev=/dev/mapper/nope-thinpool"},
    ),
    (
        "DIRECT_LVM_DEVICE",
        Host("lab-uml-el7-lvm-fresh", "el7"),
        {"docker_storage_driver": "devicemapper", "docker_storage_options": "dm.directlvm_device=/dev/ubdc"},
    ),
    (
        "DOWNGRADE",
        Host(
            "lab-el7-provisioned",
            "el7",
            yum=(
                0,
                "Available Packages\ndocker-ce.x86_64  3:19.03.15-3.el7  "
                "docker-ce-stable\ndocker-ce.x86_64  3:20.10.24-3.el7  updates\n",
            ),
        ),
        {"docker_version": "19.03.15", "docker_storage_driver": "overlay2"},
    ),
    (
        "DRIVER_REMOVED",
        Host(
            "lab-el7-provisioned",
            "el7",
            {"\n@@pyinstall-section:yum_lock": "entry: devicemapper\n\n@@pyinstall-section:yum_lock"},
            yum=(0, "Available Packages\ndocker-ce.x86_64  3:28.5.2-1.el7  docker-ce-stable\n"),
        ),
        {"docker_version": "28.5.2", "docker_storage_driver": "devicemapper"},
    ),
]


@pytest.mark.parametrize("code, host, variables", REFUSALS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(REFUSALS)])
def test_check_and_provision_refuse_alike_and_provision_changes_nothing(code: str, host: Host, variables: dict) -> None:
    bundles = {"el6": variables.pop("bundles")} if "bundles" in variables else None
    model = asked.parse("h1", {**LAB_VARS, **variables}, bundles=bundles)
    target = Target("h1", "192.0.2.1")
    sessions: list[FakeSession] = []

    def connect(t: Target) -> FakeSession:
        sessions.append(host.session(t))
        return sessions[-1]

    checked = preflight.check_host(target, model, connect=connect)
    assert checked.status == Status.FAILED
    assert code in {f.code for f in checked.findings if f.level == Level.ERROR}
    run = provision.provision_host(target, model, connect=connect)
    assert run.status == Status.FAILED and run.tasks == []
    assert code in {f.code for f in run.findings if f.level == Level.ERROR}
    check_session, provision_session = sessions
    assert len(provision_session.commands) == len(check_session.commands), "provision ran only what check ran"


def test_every_refusal_an_inventory_can_cause_is_enumerated() -> None:
    """Every error code of a check that reads what was asked appears above; plan and runtime refuse nothing
    themselves (runtime's one guard renders no flag preflight has not already refused)."""
    asked_codes = {"OVERLAY_EL6", "OVERLAY_BACKING", "STORE_IN_USE", "PACKAGE", "VERSION_UNAVAILABLE", "REPOSITORY",
                   "DAEMON_OPTION", "FOREIGN_CONFIG", "BUNDLE_LOGIN", "BUNDLE_PLATFORM", "DOWNGRADE", "DRIVER_REMOVED",
                   "THIN_POOL", "DIRECT_LVM_DEVICE"}  # fmt: skip
    assert asked_codes == {code for code, _, _ in REFUSALS}
    source = "".join((HERE.parent / "installer" / f).read_text() for f in ("plan.py", "runtime.py", "provision.py"))
    assert len(re.findall(r"raise PlanError", source)) == 1


def test_a_switch_to_an_older_engine_of_another_channel_is_a_downgrade() -> None:
    """docker-ce 20.10 installed, the extras channel asked (Red Hat's 1.13.1): an engine downgrade."""
    f = facts.parse((HERE / "facts" / "lab-el7-provisioned.txt").read_text())
    s = checks.subject(f, asked.parse("h1", {**LAB_VARS, "docker_package": "docker", "docker_version": "1.13.1"}))
    (finding,) = checks.check_downgrade(s)
    assert finding.code == "DOWNGRADE" and "docker-ce 20.10.24-3.el7 is installed and 1.13.1 is pinned" in (
        finding.message
    )
    assert "extras channel's docker" in finding.message
    same = checks.subject(f, asked.parse("h1", {**LAB_VARS, "docker_package": "docker"}))
    assert checks.check_downgrade(same) == [], "the lab's extras package carries the same 20.10 engine"


def test_a_downgrade_goes_ahead_when_allowed() -> None:
    """--allow-downgrade ignores DOWNGRADE: the plan downgrades, pinned."""
    host = Host("lab-el7-provisioned", "el7", yum=(0, "Available Packages\ndocker-ce.x86_64  3:19.03.15-3.el7  x\n"))
    variables = {**LAB_VARS, "docker_version": "19.03.15", "docker_storage_driver": "overlay2"}
    model = asked.parse("h1", variables, ignore=["DOWNGRADE"])
    run = provision.provision_host(Target("h1", "192.0.2.1"), model, check=True, connect=host.session)
    assert [f.code for f in run.findings if f.ignored] == ["DOWNGRADE"]
    assert [t.name for t in run.tasks if t.name.startswith("downgrade")] == [
        "downgrade docker-ce 20.10.24-3.el7 -> 19.03.15"
    ]
