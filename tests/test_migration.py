"""The storage migration's pure parts on recorded outputs (tests/facts/migration, read by test_facts too:
devicemapper on loop files and on a thin pool, a host already moved, a hostile one): what preflight refuses;
the steps planned, resumed from a ledger, and quoted."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from installer import checks, migration
from installer.asked import Asked, Migration
from installer.connection import CommandResult
from installer.executor import CHANGED, FAILED
from installer.plan import Plan, plan
from installer.runtime import desired
from tests.test_enumeration import recorded

CASES = Path(__file__).parent / "facts" / "migration"
HOST = "lab-uml-el7-lvm-provisioned"  # docker-ce 20.10.24 on devicemapper (direct-lvm), as provisioned
MIGRATE = Migration(migrate=True, stop_containers=True)


def test_what_does_not_look_like_docker_output_is_left_out() -> None:
    state = migration.parse((CASES / "hostile.txt").read_text())
    assert state.target == "" and state.steps == ["record"], "a ledger line with shell in it is not believed"
    assert [i.tags for i in state.images] == [("web:1",), (), ()]
    assert [c.name for c in state.containers] == ["runner"]
    assert state.volumes == ["data"] and state.layer_bytes == {"devicemapper": 4096}
    assert list(state.old) == ["/var/lib/docker/pyinstall-old-devicemapper"], "only the stores moved aside"
    assert migration.parse("@@pyinstall-section:ledger\n").error, "a script cut short says so"


def facts(case: str = "lab-el7-devicemapper", **state_changes):
    state = replace(migration.parse((CASES / f"{case}.txt").read_text()), **state_changes)
    return recorded(HOST, migration=state)


def asked(**changes) -> Asked:
    return Asked("h1", **{"storage_driver": "overlay2", "version": "20.10.24", "migration": MIGRATE, **changes})


def codes(gathered, wanted: Asked) -> dict[str, str]:
    return {f.code: f.message for f in checks.run_checks(gathered, wanted) if f.code.startswith(("MIGRAT", "STORE"))}


def test_a_host_that_can_move_is_told_what_moves() -> None:
    found = codes(facts(), asked())
    assert set(found) == {"MIGRATION"}, found
    assert found["MIGRATION"].startswith("devicemapper -> overlay2: 3 image(s) saved and loaded (13.0 kB of layers")
    assert "2 container(s) to recreate (1 running: stopped first), 1 volume(s) kept" in found["MIGRATION"]


def test_without_the_flag_the_other_drivers_data_refuses_the_switch() -> None:
    found = codes(facts(), asked(migration=Migration()))
    assert set(found) == {"STORE_IN_USE"}, found


@pytest.mark.parametrize(
    ("code", "state", "wanted"),
    [
        ("MIGRATE_RUNNING", {}, {"migration": Migration(migrate=True)}),
        ("MIGRATE_DAEMON", {"driver": "", "images": [], "containers": []}, {}),
        ("MIGRATE_UPGRADE", {}, {"version": "24.0.9"}),
        ("MIGRATE_DATA_ROOT", {}, {"daemon_options": {"data-root": "/srv/docker"}}),
        ("MIGRATE_LEDGER", {"steps": ["record"], "source": "devicemapper", "target": "vfs"}, {}),
        ("MIGRATE_SPACE", {"layer_bytes": {"devicemapper": 8 * 10**9}}, {}),
        ("MIGRATE_SPACE", {"layer_bytes": {}}, {}),  # unmeasured: never guessed
        ("MIGRATE", {"error": "the migration script did not finish"}, {}),
        ("MIGRATE_PURGE", {"steps": ["record"], "source": "devicemapper", "target": "overlay2"},
         {"migration": Migration(purge_old=True)}),
    ],
)  # fmt: skip
def test_refusals(code: str, state: dict, wanted: dict) -> None:
    found = codes(facts(**state), asked(**wanted))
    assert code in found, found


def test_el6_is_refused_with_the_way_forward() -> None:
    gathered = recorded("lab-uml-el6-loop-fresh", migration=migration.parse((CASES / "lab-el7-devicemapper.txt")
                                                                             .read_text()))  # fmt: skip
    found = checks.run_checks(gathered, asked(version=None))
    (refused,) = [f for f in found if f.code == "MIGRATE_PLATFORM"]
    assert "el6 hosts cannot move off devicemapper" in refused.message and "upgrade the host's OS" in refused.hint


def test_the_target_driver_with_data_of_its_own_is_refused() -> None:
    gathered = facts()
    gathered.docker_store_entries = [*gathered.docker_store_entries, "overlay2"]
    assert "MIGRATE_TARGET_DATA" in codes(gathered, asked())


def test_the_staging_and_the_store_on_one_filesystem_count_twice() -> None:
    state = migration.parse((CASES / "lab-el7-direct-lvm.txt").read_text())
    free = state.space["/var/lib/docker"]["free"]
    each = (free - migration.MARGIN_BYTES * 2) / 2 / migration.MARGIN  # what fits once, but not twice
    found = codes(facts("lab-el7-direct-lvm", layer_bytes={"devicemapper": int(each * 1.2)}), asked())
    assert "/var/lib/pyinstall/staging and /var/lib/docker need" in found["MIGRATE_SPACE"], found
    assert "MIGRATE_SPACE" not in codes(facts("lab-el7-direct-lvm", layer_bytes={"devicemapper": int(each * 0.8)}),
                                        asked())  # fmt: skip


def _steps(gathered, wanted: Asked) -> list[str]:
    s = checks.subject(gathered, wanted)
    moving = migration.plan(s, plan(gathered, desired(s)))
    assert moving is not None
    # The recorded hosts predate day two: its kernel settings are tested apart (tests/test_day_two.py).
    return [op.name for op in moving.plan.operations if op.tag not in ("repo", "sysctl")]


def test_the_steps_in_order_around_the_daemons_configuration() -> None:
    assert _steps(facts(), asked()) == [
        "record the images, containers and volumes",
        "stop 1 running container(s)",
        "save 3 image(s) to /var/lib/pyinstall/staging",
        "stop docker",
        "move /var/lib/docker/devicemapper aside",
        "write daemon configuration /etc/docker/daemon.json",
        "start docker on overlay2",
        "load 3 image(s) and compare",
        "check the volumes",
        "finish the migration",
    ]


RESUMED = {"source": "devicemapper", "target": "overlay2", "recorded": {"images": 3, "volumes": 1, "running": 1}}
LATER = ["load 3 image(s) and compare", "check the volumes", "finish the migration"]


@pytest.mark.parametrize(
    ("done", "daemon", "expected"),
    [
        # Lost while docker started on overlay2: the daemon is down, its images are counted from the ledger.
        (["record", "containers", "save", "stop", "move"], "", ["start docker on overlay2", *LATER]),
        # A reboot before the store moved brought the daemon back on devicemapper: it is stopped again.
        (["record", "containers", "save", "stop"], "devicemapper",
         ["stop docker", "move /var/lib/docker/devicemapper aside", "start docker on overlay2", *LATER]),
        # Loaded, then lost: started again (a no-op if it runs) before the volumes are checked.
        (["record", "containers", "save", "stop", "move", "start", "load"], "",
         ["start docker on overlay2", "check the volumes", "finish the migration"]),
    ],
)  # fmt: skip
def test_a_half_done_host_resumes_from_what_the_ledger_and_the_host_say(
    done: list[str], daemon: str, expected: list[str]
) -> None:
    gathered = facts(steps=done, driver=daemon, images=[], containers=[], volumes=[], **RESUMED)
    files = ["write daemon configuration /etc/docker/daemon.json"]
    at = expected.index("start docker on overlay2")
    assert _steps(gathered, asked()) == [*expected[:at], *files, *expected[at:]]
    assert set(codes(gathered, asked())) == {"MIGRATION"}, "resumed: what was measured before stands"


def test_no_migration_is_planned_unless_asked_and_needed() -> None:
    s = checks.subject(facts(), asked(migration=Migration()))
    assert migration.plan(s, Plan()) is None
    moved = facts("lab-el7-migrated")
    moved.docker_store_entries = [e if e != "devicemapper" else "pyinstall-old-devicemapper"
                                  for e in moved.docker_store_entries]  # fmt: skip
    assert migration.plan(checks.subject(moved, asked()), Plan()) is None


def test_the_staging_path_reaches_the_commands_quoted() -> None:
    staging = "/srv/stage dir"  # asked.py refuses spaces; quoted all the same
    s = checks.subject(facts(), asked(migration=replace(MIGRATE, staging=staging)))
    moving = migration.plan(s, plan(s.facts, desired(s)))
    assert moving is not None
    commands = "\n".join(c for op in moving.plan.operations for c in op.commands)
    assert shlex.quote(staging + "/images.tar") in commands and " /srv/stage dir" not in commands
    assert shlex.quote(staging) + "/images.tar" in moving.undo.commands[0]


def test_purge_names_the_old_store_the_pool_and_the_archive() -> None:
    state = migration.parse((CASES / "hostile.txt").read_text())
    state.steps = [*migration.STEPS]
    op = migration.purge(state, "/var/lib/pyinstall/staging")
    assert op is not None
    assert "/var/lib/docker/pyinstall-old-devicemapper" in op.why and "/dev/mapper/docker-thinpool" in op.why
    assert "lvremove -f" in op.commands[0]
    assert migration.purge(replace(state, old={}, archive=None), "/x") is None


def _store_device(gathered) -> list:
    wanted = Asked("h1", storage_driver="overlay2", storage_device="/dev/ubdd")
    return [f for f in checks.run_checks(gathered, wanted) if f.code == "STORE_DEVICE"]


def test_a_store_disk_left_unmounted_is_refused_with_the_way_back() -> None:
    gathered = recorded(HOST)
    gathered.block_devices = {**gathered.block_devices, "/dev/ubdd": {"signature": "xfs", "mounted": None}}
    (found,) = _store_device(gathered)
    assert "carries a filesystem or LVM signature (xfs): pyinstall formats only an empty disk" in found.message
    assert "mount /var/lib/docker/overlay2" in found.hint
    gathered.block_devices["/dev/ubdd"]["mounted"] = "/var/lib/docker/overlay2"
    assert _store_device(gathered) == [], "mounted where the store goes: pyinstall's own"
    gathered.block_devices["/dev/ubdd1"] = {"signature": None, "mounted": None}
    gathered.block_devices["/dev/ubdd"] = {"signature": None, "mounted": None}
    (parted,) = _store_device(gathered)
    assert "has partitions (/dev/ubdd1): pyinstall formats only an empty disk" in parted.message


def test_a_store_on_its_own_disk_is_mounted_before_docker_starts_every_time() -> None:
    """dockerd 20.10 unmounts its driver's directory when it stops, even a filesystem of its own: a unit
    drop-in (RequiresMountsFor) has systemd mount it again before each start, and the undo mounts it before
    emptying it."""
    gathered = facts("lab-el7-direct-lvm")
    s = checks.subject(gathered, asked(storage_device="/dev/ubdd"))
    moving = migration.plan(s, plan(s.facts, desired(s)))
    (op,) = [op for op in moving.plan.operations if "pyinstall-mounts.conf" in op.name]
    assert op.restarts and op.commands[0].endswith("&& systemctl daemon-reload"), op
    assert "RequiresMountsFor=/var/lib/docker/overlay2" in op.diff
    names = [op.name for op in moving.plan.operations]
    assert names.index(op.name) < names.index("start docker on overlay2")
    undo = moving.undo.commands[0]
    assert "pyinstall-mounts.conf" in undo and "systemctl daemon-reload" in undo, "restored with the other files"
    assert undo.index('mountpoint -q "$t" || mount "$t"') < undo.index("-exec rm -rf {} +")
    s = checks.subject(gathered, asked())
    assert not [op for op in plan(s.facts, desired(s)).operations if "pyinstall-mounts" in op.name], "no device"


def test_the_layers_size_is_summed_file_by_file(tmp_path: Path) -> None:
    """Docker writes each layer's size without a newline: the script must not join them into one number.
    The script's own shell, run here over a store laid out as Docker's (no docker command needed)."""
    import subprocess

    for chain, size in (("a", "33554432"), ("b", "0"), ("c", "5120")):
        layer = tmp_path / "image" / "devicemapper" / "layerdb" / "sha256" / chain
        layer.mkdir(parents=True)
        (layer / "size").write_text(size)
    script = migration.script("/nonexistent", ("devicemapper", "overlay2")).replace(migration.ROOT, str(tmp_path))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert migration.parse(out).layer_bytes == {"devicemapper": 33554432 + 5120}


def test_the_report_script_reads_the_ledger_as_kept(tmp_path: Path) -> None:
    """REPORT_SCRIPT's own shell over a ledger laid out as the record step writes it."""
    import subprocess

    image, container = "sha256:" + "a" * 64, "c" * 64
    (tmp_path / "containers").mkdir()
    (tmp_path / "images").write_text(f"{image} web:2 web:1\n")
    (tmp_path / "digests").write_text(f"{image} web@sha256:{'b' * 64}\n")
    (tmp_path / "containers" / f"{container}.json").write_text(f'[{{"Name": "/x", "Id": "{container}"}}]')
    (tmp_path / "pool").write_text("docker-thinpool\n")
    script = migration.REPORT_SCRIPT.replace(migration.MIGRATION_DIR, str(tmp_path))
    kept = migration.parse_report(subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout)
    assert kept["images"] == [{"id": image, "tags": ["web:1", "web:2"], "digests": [f"web@sha256:{'b' * 64}"]}]
    assert [(c["name"], c["inspect_path"]) for c in kept["containers"]] == [
        ("x", f"{tmp_path}/containers/{container}.json")
    ]
    assert kept["thin_pool"] == "/dev/mapper/docker-thinpool"


class Scripted:
    """A host on which the record fails and every other command succeeds: the undo says one container ran
    (or fails too, with ``undo_fails``)."""

    def __init__(self, undo_fails: bool) -> None:
        self.undo_fails, self.stop, self.target = undo_fails, None, SimpleNamespace(name="h1")

    def run(self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None):
        undo = command.endswith('echo "$n"')
        failed = self.undo_fails if undo else "docker ps -aq" in command
        return CommandResult(command, int(failed), "1\n" if undo else "", "", 0.0)


@pytest.mark.parametrize("undo_fails", [False, True])
def test_a_failed_step_is_followed_by_the_undo_which_says_how_it_went(undo_fails: bool) -> None:
    s = checks.subject(facts(), asked())
    moving = migration.plan(s, plan(s.facts, desired(s)))
    results = migration.execute(Scripted(undo_fails), moving)  # type: ignore[arg-type]
    assert [r.status for r in results[:-1]] == [FAILED], "the plan stops at the failed step"
    back = results[-1]
    assert back.name == "put the host back on devicemapper"
    if undo_fails:
        assert back.status == FAILED and back.msg.startswith("rolling back failed"), back
    else:
        assert back.status == CHANGED, "put back: a change, not a failure (the host's status is the step's)"
        assert back.msg.endswith("1 container(s) that ran started again"), back.msg
