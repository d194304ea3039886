"""A host's Docker storage moved from one driver to another (devicemapper ─▶ overlay2), its images and
volumes kept, every step undone when one fails.

    --migrate-storage ─▶ script() (one more round trip) ─▶ parse() ─▶ State (the host's images, containers,
        volumes, space, and the ledger of a migration under way)
    State + Subject ─▶ check() ─▶ [Finding]   (refused before anything changes; `check` says the same)
    State + Plan    ─▶ plan()  ─▶ record, stop containers, save, stop docker, move the old store aside, the
        daemon's files, start on the new driver, load, compare, check volumes, finish   ─▶ execute()
        ─▶ on a failure: undo (the ledger on the host says what to put back)

Docker has no conversion between drivers: the images go through `docker save` / `docker load` (their ids
are the digests of their configurations, so they come back the same), named volumes stay where they are
(outside the driver's directories), containers cannot move and are listed to be recreated, with their
`docker inspect` kept. Nothing the old driver held is deleted: its directories are moved aside under
/var/lib/docker (a rename: the same filesystem) until a later run with --purge-old-storage.

Each step appends its name to the ledger (MIGRATION_DIR/steps) when done: a run that stopped half way
(a dropped connection, a reboot) is resumed from the first step not done.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from installer import interrupts
from installer.errors import OUTCOME_UNKNOWN
from installer.executor import CHANGED, FAILED, INTERRUPTED, UNKNOWN, TaskResult
from installer.executor import execute as run_plan
from installer.facts import MARKER, split_sections
from installer.outcome import Finding, Level
from installer.plan import DAEMON_LOG, STATE_DIR, Operation, Plan, daemon_files, q, wait_for_daemon
from installer.platforms import Platform, Service

if TYPE_CHECKING:
    from threading import Event

    from installer.checks import Subject
    from installer.connection import Session

ROOT = "/var/lib/docker"
MIGRATION_DIR = f"{STATE_DIR}/migration"  # the ledger, what was recorded before, the containers' inspect
OLD_PREFIX = "pyinstall-old-"  # ROOT/pyinstall-old-DRIVER: the old driver's directories, moved aside
ARCHIVE = "images.tar"
STEPS = ("record", "containers", "save", "stop", "move", "start", "load", "volumes", "done")
SAVE_TIMEOUT = 6 * 3600.0  # docker save / load of a large store: hours at worst, never forever
# The new store holds the layers unpacked, as the archive does; a margin for metadata and the filesystem's own.
MARGIN = 1.10
MARGIN_BYTES = 256 * 2**20


# ---------------------------------------------------------------- what the host holds


@dataclass(frozen=True)
class Image:
    id: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    running: bool


@dataclass
class State:
    """A host's store as the migration script found it."""

    steps: list[str] = field(default_factory=list)  # the ledger: steps done by a migration under way
    source: str = ""  # the ledger's: the driver moved from, and to
    target: str = ""
    driver: str = ""  # the driver the daemon runs ("": it does not answer)
    images: list[Image] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    layer_bytes: dict[str, int] = field(default_factory=dict)  # driver -> its layers' size, unpacked
    space: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> filesystem, free bytes, mount point
    old: dict[str, int] = field(default_factory=dict)  # a moved-aside store -> the bytes it holds on disk
    archive: int | None = None  # bytes of the staging archive, when there is one
    pool: str = ""  # the direct-lvm thin pool the old driver used: kept until purged
    recorded: dict[str, int] = field(default_factory=dict)  # the ledger's count of images, volumes, running
    error: str = ""  # why the script could not say

    @property
    def under_way(self) -> bool:
        return bool(self.steps) and "done" not in self.steps

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "source": self.source,
            "target": self.target,
            "driver": self.driver,
            "images": [{"id": i.id, "tags": list(i.tags), "digests": list(i.digests)} for i in self.images],
            "containers": [{"id": c.id, "name": c.name, "running": c.running} for c in self.containers],
            "volumes": self.volumes,
            "layer_bytes": self.layer_bytes,
            "space": self.space,
            "old": self.old,
            "archive": self.archive,
            "pool": self.pool,
            "recorded": self.recorded,
            "error": self.error,
        }


def script(staging: str, drivers: tuple[str, ...]) -> str:
    """One round trip: the ledger, the daemon's images, containers and volumes, the layers' size per driver
    (the uncompressed size Docker keeps for each layer: what `docker save` writes and the new store unpacks),
    the free space where the archive and the new store go, and the stores moved aside by earlier runs."""
    d, s = q(MIGRATION_DIR), q(staging)
    return f"""LC_ALL=C; export LC_ALL; PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
section() {{ printf '\\n{MARKER}%s\\n' "$1"; }}
section ledger
for f in steps from to pool; do [ -f {d}/$f ] && while IFS= read -r l; do echo "$f: $l"; done < {d}/$f; done
for f in images volumes running; do [ -f {d}/$f ] && echo "$f: $(wc -l < {d}/$f)"; done
section driver
timeout 20 docker info --format '{{{{.Driver}}}}' 2>/dev/null
section images
timeout 60 docker images --no-trunc --format '{{{{.ID}}}} {{{{.Repository}}}}:{{{{.Tag}}}}' 2>/dev/null
section digests
ids=$(timeout 60 docker images -q --no-trunc 2>/dev/null | sort -u)
f='{{{{.Id}}}}{{{{range .RepoDigests}}}} {{{{.}}}}{{{{end}}}}'
[ -z "$ids" ] || timeout 60 docker image inspect -f "$f" $ids 2>/dev/null
section containers
ids=$(timeout 60 docker ps -aq --no-trunc 2>/dev/null)
[ -z "$ids" ] || timeout 60 docker inspect -f '{{{{.Id}}}} {{{{.State.Running}}}} {{{{.Name}}}}' $ids 2>/dev/null
section volumes
timeout 60 docker volume ls -q 2>/dev/null
section layers
for drv in {" ".join(q(x) for x in drivers)}; do
    [ -d {ROOT}/image/$drv/layerdb/sha256 ] || continue
    # Each size file holds a number without a newline: awk reads each as a line of its own (cat would join them).
    find {ROOT}/image/$drv/layerdb/sha256 -name size -type f -exec awk 1 {{}} + 2>/dev/null |
        awk -v d=$drv '{{s += $1}} END {{printf "%s %.0f\\n", d, s}}'
done
section space
for p in {s} {ROOT}; do
    e=$p; while [ ! -e "$e" ]; do e=${{e%/*}}; [ -n "$e" ] || e=/; done
    df -Pk "$e" 2>/dev/null | {{ read -r _; read -r fs _ _ free _ mount && echo "$p $fs $free $mount"; }}
done
section old
for o in {ROOT}/{OLD_PREFIX}*; do [ -d "$o" ] && echo "$(du -sk "$o" 2>/dev/null | cut -f1) $o"; done
[ -f {s}/{ARCHIVE} ] && echo "archive: $(wc -c < {s}/{ARCHIVE})"
section end
"""


_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_CONTAINER = re.compile(r"^[0-9a-f]{64}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")  # what docker prints as repository:tag, repo@digest
_DRIVER = re.compile(r"^[a-z0-9]+$")
_POOL = re.compile(r"[A-Za-z0-9_.+-]+(?<!-pool)")  # a thin pool given to devicemapper (loop-lvm's: docker-M:N-I-pool)


def parse(output: str) -> State:
    """The migration script's output; whatever does not look like what Docker prints is left out."""
    sections = split_sections(output)
    if "end" not in sections:
        return State(error="the migration script did not finish")
    state = State()
    for line in sections.get("ledger", "").splitlines():
        key, _, value = line.partition(": ")
        if key == "steps" and value in STEPS:
            state.steps.append(value)
        elif key in ("from", "to") and _DRIVER.match(value):
            setattr(state, "source" if key == "from" else "target", value)
        elif key == "pool" and _POOL.fullmatch(value):
            state.pool = f"/dev/mapper/{value}"
        elif key in ("images", "volumes", "running") and value.strip().isdigit():
            state.recorded[key] = int(value)
    driver = sections.get("driver", "").strip()
    state.driver = driver if _DRIVER.match(driver) else ""
    tags: dict[str, list[str]] = {}
    for line in sections.get("images", "").splitlines():
        image, _, ref = line.partition(" ")
        if _ID.match(image):
            tag = tags.setdefault(image, [])
            if _REFERENCE.match(ref) and not ref.startswith("<none>") and not ref.endswith(":<none>"):
                tag.append(ref)
    digests = _references(sections.get("digests", ""))
    state.images = [Image(i, tuple(t), digests.get(i, ())) for i, t in tags.items()]
    for line in sections.get("containers", "").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and _CONTAINER.match(parts[0]):
            state.containers.append(Container(parts[0], parts[2].lstrip("/"), parts[1] == "true"))
    state.volumes = [v for v in sections.get("volumes", "").split() if _REFERENCE.match(v)]
    for line in sections.get("layers", "").splitlines():
        name, _, size = line.partition(" ")
        if _DRIVER.match(name) and size.isdigit():
            state.layer_bytes[name] = int(size)
    for line in sections.get("space", "").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2].isdigit():
            state.space[parts[0]] = {"filesystem": parts[1], "free": int(parts[2]) * 1024, "mount": parts[3]}
    old = sections.get("old", "")
    state.old = _old_stores(old)
    archive = next((line.partition(" ")[2].strip() for line in old.splitlines() if line.startswith("archive:")), "")
    state.archive = int(archive) if archive.isdigit() else None
    return state


def _references(text: str) -> dict[str, tuple[str, ...]]:
    """``ID REF...`` lines (an image's tags, or its digests) -> {id: refs}, what does not look like one dropped."""
    found = {}
    for line in text.splitlines():
        image, *refs = line.split() or [""]
        if _ID.match(image):
            found[image] = tuple(r for r in refs if _REFERENCE.match(r))
    return found


def _old_stores(text: str) -> dict[str, int]:
    """``KIB PATH`` lines (du -sk) of the stores moved aside -> {path: bytes}; any other path is not one."""
    found = {}
    for line in text.splitlines():
        kib, _, path = line.partition(" ")
        if kib.isdigit() and path.startswith(f"{ROOT}/{OLD_PREFIX}"):
            found[path] = int(kib) * 1024
    return found


def source(s: Subject) -> str | None:
    """The driver the host's images are in that is not the one asked: what a migration moves from (the
    ledger's, while one is under way)."""
    state = s.facts.migration
    if state is not None and state.under_way:
        return state.source or None
    if state is not None and state.driver and state.driver != s.storage_driver:
        return state.driver
    data = [e for e in s.facts.docker_store_entries if e in s.platform.storage_drivers] if s.platform else []
    others = [e for e in data if e != s.storage_driver]
    return others[0] if len(others) == 1 else None


def size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


# ---------------------------------------------------------------- preflight


def check(s: Subject) -> list[Finding]:
    """What refuses a migration before anything changes (with --migrate-storage), and what it will move."""
    asked, state = s.asked.migration, s.facts.migration
    if state is None:
        return []
    if state.error:
        return [Finding("MIGRATE", Level.ERROR, f"the host's store could not be examined: {state.error}",
                        "run again; if it persists, run the command with -vvv and read the log")]  # fmt: skip
    findings = _purge(s, state) if asked.purge_old else []
    if not asked.migrate:
        return findings
    moving_from, target = source(s), s.storage_driver
    if moving_from is None or target is None:
        if state.old and not state.under_way:
            said = f"migrated to {target}; {', '.join(state.old)} ({size(sum(state.old.values()))}) kept"
            return findings or [Finding("MIGRATION", Level.INFO, f"{said} until --purge-old-storage")]
        return [*findings, Finding("MIGRATION", Level.INFO, f"nothing to migrate: the store holds no other "
                                   f"driver's images than {target}'s")]  # fmt: skip
    error = _refusal(s, state, moving_from, target)
    if error is not None:
        return [*findings, error]
    return [*findings, Finding("MIGRATION", Level.INFO, _summary(s, state, moving_from, target))]


def _fail(code: str, message: str, hint: str) -> Finding:
    return Finding(code, Level.ERROR, message, hint)


def _refusal(s: Subject, state: State, moving_from: str, target: str) -> Finding | None:
    asked, platform = s.asked, s.platform
    if platform is None:
        return None  # the OS finding says why
    driver = platform.storage_drivers.get(target)
    if driver is not None and driver.refused is not None:
        return _fail("MIGRATE_PLATFORM", f"{platform.id} hosts cannot move off {moving_from}: "
                     + driver.refused.message.format(driver=target, platform=platform.id),
                     "upgrade the host's OS first (EL7, or EL8/EL9), then migrate its storage")  # fmt: skip
    if asked.root_dir and asked.root_dir.rstrip("/") != ROOT:
        return _fail("MIGRATE_DATA_ROOT", f"data-root {asked.root_dir} is asked: the migration moves {ROOT} only",
                     "migrate with Docker's default data-root, then move it")  # fmt: skip
    if state.under_way:
        if (state.source, state.target) != (moving_from, target):
            return _fail("MIGRATE_LEDGER", f"a migration {state.source} -> {state.target} is under way "
                         f"(done: {', '.join(state.steps)}); {target} is asked now",
                         f"ask docker_storage_driver={state.target} to finish it")  # fmt: skip
        return None  # resumed from the ledger: what was measured before stands
    if not state.driver:
        return _fail("MIGRATE_DAEMON", "the docker daemon does not answer: its images cannot be saved",
                     "start it (it must run on the old driver), then run again")  # fmt: skip
    if s.channel is None or s.runs_pin is None:
        installed = next((f"{c.package} {s.facts.installed(c.package)}" for c in platform.channels.values()
                          if s.facts.installed(c.package)), "no docker")  # fmt: skip
        return _fail("MIGRATE_UPGRADE", f"{installed} is installed and {s.pin} is pinned: the migration runs on "
                     "the Docker that wrote the images, with no package change in the same run",
                     "pin docker_version to the installed version to migrate; upgrade in a later run")  # fmt: skip
    device = s.facts.block_devices.get(asked.storage_device or "") or {}
    if target in s.facts.docker_store_entries and device.get("mounted") != f"{ROOT}/{target}":
        return _fail("MIGRATE_TARGET_DATA", f"{ROOT}/{target} exists already: the images loaded would mix with "
                     "what it holds", f"move {ROOT}/{target} away (it is not in use), then run again")  # fmt: skip
    running = [c.name for c in state.containers if c.running]
    if running and not asked.migration.stop_containers:
        return _fail("MIGRATE_RUNNING", f"{len(running)} container(s) running: {', '.join(running[:10])}",
                     "stop them (drain the host), or add --stop-containers; recreate them after")  # fmt: skip
    return _space(s, state, moving_from)


def _space(s: Subject, state: State, moving_from: str) -> Finding | None:
    """The archive on the staging path and the new store under /var/lib/docker, each on its filesystem
    (the same one counted twice); the old store keeps its space until it is purged."""
    layers = state.layer_bytes.get(moving_from)
    if layers is None and state.images:
        return _fail("MIGRATE_SPACE", f"the size of {moving_from}'s layers is unknown ({ROOT}/image/{moving_from} "
                     "has none): the space the migration needs cannot be measured", "")  # fmt: skip
    need = int((layers or 0) * MARGIN) + MARGIN_BYTES
    staging = s.asked.migration.staging
    wanted: dict[str, list] = {}
    # The new store goes on docker_storage_device when one is given: a whole disk of its own.
    for path in (staging,) if s.asked.storage_device else (staging, ROOT):
        where = state.space.get(path)
        if where is None:
            return _fail("MIGRATE_SPACE", f"the free space at {path} could not be read (df)", "")
        entry = wanted.setdefault(where["filesystem"], [where, 0, []])
        entry[1] += need
        entry[2].append(path)
    for where, needed, paths in wanted.values():
        if where["free"] < needed:
            both = " and ".join(paths)
            return _fail("MIGRATE_SPACE", f"{both} need {size(needed)} on {where['mount']} (the images saved"
                         f"{' and loaded again' if len(paths) > 1 else ''}: {size(layers or 0)} of layers); "
                         f"{size(where['free'])} free", "free space there, or give docker_migration_staging on "
                         "another filesystem")  # fmt: skip
    return None


def _summary(s: Subject, state: State, moving_from: str, target: str) -> str:
    if state.under_way:
        return (f"a migration {moving_from} -> {target} is resumed (done: {', '.join(state.steps)}); the rest "
                "follows, or everything is put back")  # fmt: skip
    running = sum(c.running for c in state.containers)
    layers = state.layer_bytes.get(moving_from, 0)
    stopped = f" ({running} running: stopped first)" if running else ""
    return (f"{moving_from} -> {target}: {len(state.images)} image(s) saved and loaded ({size(layers)} of layers, "
            f"staged in {s.asked.migration.staging}), {len(state.containers)} container(s) to recreate{stopped}, "
            f"{len(state.volumes)} volume(s) kept in place; {ROOT}/{moving_from} moved aside, not deleted")  # fmt: skip


def _purge(s: Subject, state: State) -> list[Finding]:
    if state.under_way:
        return [_fail("MIGRATE_PURGE", f"a migration {state.source} -> {state.target} is under way: the old store "
                      "is what it is put back from", "finish the migration first (--migrate-storage)")]  # fmt: skip
    if not state.old and state.archive is None:
        return [Finding("MIGRATION", Level.INFO, "no old store to purge")]
    held = sum(state.old.values()) + (state.archive or 0)
    pool = f", the thin pool {state.pool}" if state.pool else ""
    return [Finding("MIGRATION", Level.INFO, f"--purge-old-storage deletes {', '.join(state.old) or 'no old store'}"
                    f"{pool} and the staged images: {size(held)}")]  # fmt: skip


# ---------------------------------------------------------------- the steps


@dataclass(frozen=True)
class MigrationPlan:
    """A host's migration as it will run: its plan, and the undo that puts the host back on failure."""

    plan: Plan
    undo: Operation
    source: str
    target: str


def _mark(step: str) -> str:
    # On disk before and after: a host that loses power (or is reset) must not find a step marked whose
    # work is lost, nor a finished migration that its ledger says is under way (seen on a reboot).
    steps = f"{MIGRATION_DIR}/steps"
    return f"{{ grep -qsx {step} {steps} || {{ sync; echo {step} >> {steps}; sync; }}; }}"


def _stop_daemon(service: Service) -> str:
    # docker.socket would start the daemon again at the first client's call (docker-ce's units on systemd).
    return (
        "if command -v systemctl >/dev/null 2>&1; then systemctl stop docker.socket >/dev/null 2>&1 || :; fi; "
        f"if {service.running} >/dev/null 2>&1; then {service.stop} >/dev/null || "
        "{ echo 'stopping the docker daemon failed' >&2; exit 1; }; fi; "
        f"i=0; while {service.running} >/dev/null 2>&1; do i=$((i + 1)); "
        "if [ $i -ge 60 ]; then echo 'the docker daemon did not stop within 60s' >&2; exit 1; fi; sleep 1; done"
    )


def _old_store(driver: str) -> str:
    return f"{ROOT}/{OLD_PREFIX}{driver}"


def _moves(moving_from: str) -> list[tuple[str, str]]:
    """What the old driver's store is, under ROOT, and where each part goes under the old store."""
    return [(moving_from, moving_from), (f"image/{moving_from}", f"image-{moving_from}"), ("containers", "containers")]


def plan(s: Subject, base: Plan) -> MigrationPlan | None:
    """The migration's steps around the daemon's files of ``base`` (the host's plan for the new driver),
    from the first step the ledger does not have; None when nothing is to migrate."""
    state, platform = s.facts.migration, s.platform
    moving_from, target = (source(s), s.storage_driver) if state is not None else (None, None)
    if state is None or platform is None or moving_from is None or target is None or not s.asked.migration.migrate:
        return None
    if any(op.runtime for op in base.operations):
        raise ValueError("a migration with a package change: preflight refuses it (MIGRATE_UPGRADE)")
    done = set(state.steps) if state.under_way else set()
    d, root, old = q(MIGRATION_DIR), ROOT, q(_old_store(moving_from))
    staging = s.asked.migration.staging
    service, archive = platform.service, q(f"{staging}/{ARCHIVE}")
    files = " ".join(q(f) for f in daemon_files(platform))
    # Resumed, the counts are the ledger's: the daemon may be down, or already on the new driver.
    counted = state.recorded if done else {}
    images = counted.get("images", len(state.images))
    volumes = counted.get("volumes", len(state.volumes))
    running = counted.get("running", sum(c.running for c in state.containers))
    layers = state.layer_bytes.get(moving_from, 0)

    record = Operation("record the images, containers and volumes", (
        f"set -e; set -f; umask 077; d={d}; rm -rf \"$d\"; mkdir -p \"$d/containers\"; "
        f"echo {q(moving_from)} > \"$d/from\"; echo {q(target)} > \"$d/to\"; "
        # One line per image: ID TAG... (none: untagged, saved by its id).
        "docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | awk '{t = $2; "
        'if (t ~ /^<none>/ || t ~ /:<none>$/) t = ""; if (!($1 in a)) {a[$1] = ""; o[++n] = $1} '
        'if (t != "") a[$1] = a[$1] " " t} END {for (i = 1; i <= n; i++) print o[i] a[o[i]]}\' > "$d/images"; '
        'ids=$(cut -d" " -f1 "$d/images"); : > "$d/digests"; '
        '[ -z "$ids" ] || docker image inspect -f \'{{.Id}}{{range .RepoDigests}} {{.}}{{end}}\' $ids > "$d/digests"; '
        'docker ps -aq --no-trunc > "$d/all"; docker ps -q --no-trunc > "$d/running"; '
        'for c in $(cat "$d/all"); do docker inspect "$c" > "$d/containers/$c.json"; done; '
        ': > "$d/volumes"; for v in $(docker volume ls -q); do m=$(docker volume inspect -f \'{{.Mountpoint}}\' "$v"); '
        'printf \'%s %s %s %s\\n\' "$v" "$m" "$(du -sk "$m" | cut -f1)" "$(find "$m" | wc -l)" >> "$d/volumes"; done; '
        "docker info 2>/dev/null | sed -n 's/^ *Pool Name: //p' > \"$d/pool\"; "
        f"for f in {files}; do if [ -f \"$f\" ]; then printf '%s\\n' \"${{f#/}}\"; fi; done > \"$d/files\"; "
        'if [ -s "$d/files" ]; then tar -C / -cpf "$d/files.tar" -T "$d/files"; fi; '
        f"{_mark('record')}; echo \"$(wc -l < \"$d/images\") image(s), $(wc -l < \"$d/all\") container(s), "
        "$(wc -l < \"$d/volumes\") volume(s) recorded in $d\"",
    ), f"{images} image(s), {len(state.containers)} container(s), {volumes} volume(s)",
        timeout=600)  # fmt: skip
    stop_containers = Operation(f"stop {running} running container(s)", (
        # One call: the CLI stops them side by side, each given 30 s to end before it is killed.
        f"set -e; set -f; d={d}; ids=$(cat \"$d/running\"); "
        'if [ -n "$ids" ]; then docker stop -t 30 $ids >/dev/null; fi; '
        f"{_mark('containers')}",
    ), "--stop-containers", timeout=600)  # fmt: skip
    save = Operation(f"save {images} image(s) to {staging}", (
        f"set -e; set -f; d={d}; s={q(staging)}; (umask 077; mkdir -p \"$s\"); "
        'refs=$(while read -r id tags; do if [ -n "$tags" ]; then echo $tags; else echo "$id"; fi; '
        'done < "$d/images"); '
        f'rm -f {archive} {archive}.part "$d/images.sha256"; '
        f'if [ -n "$refs" ]; then docker save -o {archive}.part $refs; '
        f'sha256sum < {archive}.part | cut -d" " -f1 > "$d/images.sha256"; mv {archive}.part {archive}; '
        f'echo "$(wc -c < {archive}) bytes, sha256 $(cat "$d/images.sha256")"; fi; {_mark("save")}',
    ), f"{size(layers)} of layers", timeout=SAVE_TIMEOUT, detached=True, job="docker save")  # fmt: skip
    stop = Operation("stop docker", (f"set -e; {_stop_daemon(service)}; {_mark('stop')}",), f"on {moving_from}",
                     timeout=120)  # fmt: skip
    move = Operation(f"move {ROOT}/{moving_from} aside", (
        f"set -e; old={old}; mkdir -p \"$old\"; "
        + "".join(f'if [ -e {root}/{a} ] && [ ! -e "$old"/{b} ]; then mv {root}/{a} "$old"/{b}; fi; '
                  for a, b in _moves(moving_from))
        + f"{_mark('move')}; echo \"kept in $old\"",
    ), "kept until --purge-old-storage", timeout=120)  # fmt: skip
    start = Operation(f"start docker on {target}", (
        f"set -e; {service.start} >/dev/null 2>&1 || :; if ! ( {wait_for_daemon(service, 60)} ); then "
        f"{{ {DAEMON_LOG}; }} | tail -n 5 >&2; exit 1; fi; "
        "drv=$(docker info --format '{{.Driver}}'); "
        f"if [ \"$drv\" != {q(target)} ]; then echo \"the daemon runs $drv, not {target}\" >&2; exit 1; fi; "
        f"{_mark('start')}",
    ), f"{moving_from} moved aside", timeout=180)  # fmt: skip
    load = Operation(f"load {images} image(s) and compare", (
        f"set -e; set -f; d={d}; "
        f"if [ -s \"$d/images.sha256\" ]; then "
        f'echo "$(cat "$d/images.sha256")  "{archive} | sha256sum -c --quiet >/dev/null 2>&1 || '
        f'{{ echo "the archive "{archive}" differs from what was saved (sha256)" >&2; exit 1; }}; '
        f"docker load -i {archive} >/dev/null; fi; "
        'bad=; while read -r id tags; do docker image inspect "$id" >/dev/null 2>&1 || bad="$bad $id(missing)"; '
        "for t in $tags; do [ \"$(docker image inspect -f '{{.Id}}' \"$t\" 2>/dev/null)\" = \"$id\" ] || "
        'bad="$bad $t(not $id)"; done; done < "$d/images"; '
        '[ -z "$bad" ] || { echo "after loading, not as recorded:$bad" >&2; exit 1; }; '
        f"{_mark('load')}; echo \"$(wc -l < \"$d/images\") image(s) with the same ids and tags\"",
    ), "sha256 of the archive checked first", timeout=SAVE_TIMEOUT, detached=True, job="docker load")  # fmt: skip
    volumes = Operation("check the volumes", (
        f"set -f; d={d}; bad=; while read -r v m kib n; do "
        "now=$(docker volume inspect -f '{{.Mountpoint}}' \"$v\" 2>/dev/null) || { bad=\"$bad $v(gone)\"; continue; }; "
        '[ "$now $(du -sk "$now" | cut -f1) $(find "$now" | wc -l)" = "$m $kib $n" ] || bad="$bad $v(changed)"; '
        'done < "$d/volumes"; [ -z "$bad" ] || { echo "volumes not as recorded:$bad" >&2; exit 1; }; '
        f"{_mark('volumes')}; echo \"$(wc -l < \"$d/volumes\") volume(s) as recorded\"",
    ), f"{volumes} volume(s) in place", timeout=600)  # fmt: skip
    finish = Operation("finish the migration", (
        f"set -e; d={d}; {_mark('done')}; echo \"old store: $(du -sk {old} | cut -f1) kB in \"{old}",
    ), "the ledger says done", timeout=600)  # fmt: skip

    files_ops = [op for op in base.operations if op.restarts]
    others = [op for op in base.operations if not op.restarts]
    # A step is skipped when the ledger has it, except what a lost connection or a reboot can undo behind
    # the ledger's back: until the store has moved the daemon is stopped again, and it is started (on the
    # new driver, checked) before anything that needs it. Both change nothing when already so.
    steps = [
        (record, "record" in done),
        *([(stop_containers, "containers" in done)] if running or "containers" in done else []),
        (save, "save" in done),
        (stop, "move" in done),
        (move, "move" in done),
        *((op, False) for op in files_ops),
        (start, False),
        (load, "load" in done),
        (volumes, "volumes" in done),
        (finish, False),
    ]
    ops = [*others, *(replace(op, tag="migrate") for op, skipped in steps if not skipped)]
    return MigrationPlan(Plan(ops), _undo(platform, moving_from, target, staging), moving_from, target)


def _undo(platform: Platform, moving_from: str, target: str, staging: str) -> Operation:
    """Back to the old driver, from what the ledger kept: the daemon stopped, what the new one wrote removed
    (copies of the images, made by this migration), the old store moved back, the daemon's files as they
    were, the daemon started and the containers that ran started again; the ledger and archive then go."""
    d, root, old, service = q(MIGRATION_DIR), ROOT, q(_old_store(moving_from)), platform.service
    back = "".join(
        f'if [ -e "$old"/{b} ]; then rm -rf {root}/{a}; mv "$old"/{b} {root}/{a}; fi; ' for a, b in _moves(moving_from)
    )
    files = " ".join(q(f) for f in daemon_files(platform))
    script = (
        f'set -e; set -f; d={d}; old={old}; [ -d "$d" ] || {{ echo 0; exit 0; }}; '
        # The daemon is stopped only when the store moved, or it does not run the old driver.
        f'if [ -d "$old" ] || [ "$(docker info --format \'{{{{.Driver}}}}\' 2>/dev/null)" != {q(moving_from)} ]; then '
        f"{_stop_daemon(service)}; "
        # A store on docker_storage_device stays mounted (mounted again: dockerd 20.10 unmounts it when it
        # stops): only what the new daemon wrote there goes.
        f't={root}/{q(target)}; if grep -qs "^[^#]*[[:space:]]$t[[:space:]]" /etc/fstab; then '
        'mountpoint -q "$t" || mount "$t"; fi; '
        'if mountpoint -q "$t"; then find "$t" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; else rm -rf "$t"; fi; '
        f'if [ -d "$old" ]; then rm -rf {root}/image/{q(target)}; {back}rmdir "$old"; fi; '
        f"rm -f {files}; "
        'if [ -f "$d/files.tar" ]; then tar -C / -xpf "$d/files.tar"; fi; '
        f"{service.reload or ':'}; "
        f"{service.start} >/dev/null 2>&1 || :; {wait_for_daemon(service, 60)}; fi; "
        "drv=$(docker info --format '{{.Driver}}'); "
        f'[ "$drv" = {q(moving_from)} ] || {{ echo "the daemon runs $drv, not {moving_from}" >&2; exit 1; }}; '
        'n=0; for c in $(cat "$d/running" 2>/dev/null); do '
        '[ "$(docker inspect -f \'{{.State.Running}}\' "$c" 2>/dev/null)" = true ] || '
        '{ docker start "$c" >/dev/null && n=$((n + 1)); }; done; '
        f'rm -rf {q(staging)}/{ARCHIVE} {q(staging)}/{ARCHIVE}.part "$d"; echo "$n"'
    )
    return Operation(f"put the host back on {moving_from}", (script,), "a step failed", timeout=600, tag="migrate")


def purge(state: State, staging: str) -> Operation | None:
    """--purge-old-storage after a migration: the old store (and a direct-lvm thin pool) and the archive."""
    if state.under_way or not (state.old or state.archive is not None):
        return None
    paths = " ".join(q(p) for p in state.old)
    pool = (
        f"lv=$(lvs --noheadings -o vg_name,lv_name {q(state.pool)} 2>/dev/null | awk '{{print $1 \"/\" $2}}'); "
        '[ -z "$lv" ] || lvremove -f "$lv" >/dev/null; '
        if state.pool
        else ""
    )
    held = sum(state.old.values()) + (state.archive or 0)
    return Operation(
        "purge the old storage",
        (f"set -e; set -f; {pool}rm -rf {paths} {q(staging)}/{ARCHIVE}; echo purged >> {q(MIGRATION_DIR)}/purged",),
        f"{size(held)}: {', '.join([*state.old, *([state.pool] if state.pool else []), staging + '/' + ARCHIVE])}",
        timeout=1800,
        tag="migrate",
    )


# ---------------------------------------------------------------- running it


def execute(
    session: Session | None, migration: MigrationPlan, check: bool = False, stop: Event | None = None
) -> list[TaskResult]:
    """The migration's plan; a step that fails or is interrupted puts the host back (undo). A lost
    connection leaves the host as it is: the next run resumes it from the ledger."""
    results = run_plan(session, migration.plan, check=check, stop=stop)
    if check or session is None or not results:
        return results
    statuses = {r.status for r in results}
    if UNKNOWN in statuses or not statuses & {FAILED, INTERRUPTED}:
        return results
    undo = migration.undo
    held, session.stop = session.stop, None  # Ctrl-C asked for the host to be put back, not left half way
    try:
        done = session.run(undo.commands[0], timeout=undo.timeout)
    except (*OUTCOME_UNKNOWN, interrupts.Interrupted) as exc:
        return [*results, TaskResult(undo.name, UNKNOWN, exc.message, commands=list(undo.commands), hint=exc.hint)]
    finally:
        session.stop = held
    if done.ok:
        started = done.stdout.strip().splitlines()[-1:] or ["0"]
        again = f"; {started[0]} container(s) that ran started again" if started[0] not in ("", "0") else ""
        msg = f"rolled back: {migration.source} and its images as they were, the daemon's files restored{again}"
    else:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [f"exit status {done.rc}"]
        msg = f"rolling back failed: {said[0]}; the ledger is in {MIGRATION_DIR}"
    status = CHANGED if done.ok else FAILED  # put back: the host's status stays the step's (failed, interrupted)
    return [*results, TaskResult(undo.name, status, msg, rc=done.rc, commands=list(undo.commands),
                                 stdout=done.stdout, stderr=done.stderr, seconds=done.duration)]  # fmt: skip


def report(session: Session) -> dict[str, Any]:
    """What the migration kept, for the report and the run record (parse_report), read from the host."""
    return parse_report(session.run(REPORT_SCRIPT, timeout=60).stdout)


REPORT_SCRIPT = (
    f"d={q(MIGRATION_DIR)}; printf '{MARKER}images\\n'; cat \"$d/images\"; printf '\\n{MARKER}digests\\n'; "
    'cat "$d/digests"; '
    f'for f in "$d"/containers/*.json; do [ -f "$f" ] && printf \'\\n{MARKER}container %s\\n\' "$f" && '
    f'cat "$f"; done; printf \'\\n{MARKER}old\\n\'; for o in {ROOT}/{OLD_PREFIX}*; do [ -d "$o" ] && '
    f'echo "$(du -sk "$o" | cut -f1) $o"; done; printf \'\\n{MARKER}pool\\n\'; cat "$d/pool"; '
    f"printf '\\n{MARKER}end\\n'"
)


def parse_report(text: str) -> dict[str, Any]:
    """Every image (ids, tags, the digests `docker load` does not restore), every container to recreate
    with its `docker inspect` and where the host keeps it, the old store's size, the thin pool kept."""
    sections = split_sections(text)
    digests = _references(sections.get("digests", ""))
    images = [{"id": i, "tags": sorted(tags), "digests": list(digests.get(i, ()))}
              for i, tags in _references(sections.get("images", "")).items()]  # fmt: skip
    containers = []
    for name, content in sections.items():
        kind, _, path = name.partition(" ")
        if kind != "container":
            continue
        try:
            inspect = json.loads(content)
        except ValueError:
            continue
        first = inspect[0] if isinstance(inspect, list) and inspect and isinstance(inspect[0], dict) else {}
        containers.append({"name": str(first.get("Name", "")).lstrip("/"), "id": str(first.get("Id", "")),
                           "inspect_path": path, "inspect": inspect})  # fmt: skip
    old, pool = _old_stores(sections.get("old", "")), sections.get("pool", "").strip()
    thin_pool = f"/dev/mapper/{pool}" if _POOL.fullmatch(pool) else None
    return {"images": images, "containers": containers, "old": old, "thin_pool": thin_pool}
