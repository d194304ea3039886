#!/usr/bin/env bash
# Set up this checkout on a Debian/Ubuntu machine (as root) and run one job:
#   bash setup.sh demo   bring up the simulated CentOS fleet and show what pyinstall sees
#   bash setup.sh test   lint and run the whole test suite (what CI runs)
#   bash setup.sh image  build the container image (dist/pyinstall-image.tar, for docker/podman load)
#   bash setup.sh deps   only install what the project needs (apt packages, .venv)
set -euo pipefail
cd "$(dirname "$0")"

# The lab: real sshd, rpm/rpmbuild, dnf, createrepo_c, Debian's docker engine (payload of the lab's
# RPMs), util-linux (unshare, losetup), tini (the hosts' init), e2fsprogs (loop stores); python3-venv;
# locales (a German lab host: sudo speaking its own language); chromium renders the HTML report in its test,
# and with chromium-driver (WebDriver) browses `runs serve` in its own.
# The lab's @uml hosts (a kernel of their own): patchelf (the kernel's C library), kmod, udev, lvm2
# (dmsetup, direct-lvm), thin-provisioning-tools, xfsprogs. postgresql: the run records' tests start a server.
# The container image (image/build.py): mmdebstrap, binutils (strip); docker.io runs it in its test.
# A site's private registry for the lab's hosts (tests/lab/services.py): docker-registry, openssl.
APT_PACKAGES="openssh-server openssh-client rpm dnf createrepo-c docker.io iproute2 util-linux tini e2fsprogs
procps sudo locales python3 python3-venv python3-pip ca-certificates chromium chromium-driver
patchelf kmod udev lvm2 thin-provisioning-tools xfsprogs postgresql mmdebstrap binutils docker-registry openssl"

deps() {
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: run as root: the simulated fleet needs namespaces, mounts and cgroups" >&2
        exit 1
    fi
    local missing=()
    for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup.sh: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # policy-rc.d: installing openssh-server or docker.io must not start the machine's own daemons
        # (a machine-wide sshd on 0.0.0.0:22 would take the lab hosts' port).
        local policy=/usr/sbin/policy-rc.d own_policy=
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
        fi
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        [ -z "$own_policy" ] || rm -f "$policy"
    fi
    local stamp=.venv/.installed
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        # Quiet unless it fails: build backends are chatty on stderr.
        if ! { .venv/bin/python -m pip install -q --upgrade pip &&
               .venv/bin/python -m pip install -q -e ".[test]"; } >.venv/pip.log 2>&1; then
            cat .venv/pip.log >&2
            echo "setup.sh: pip install failed (log above, kept in .venv/pip.log)" >&2
            exit 1
        fi
        touch "$stamp"
    fi
    # The @uml hosts' kernel, from Debian's archive into the machine's cache (once; see tests/lab/uml.py),
    # and the JUnit schema the --junit-xml tests validate against (once, from PyPI; tests/junit_schema.py).
    .venv/bin/python -m tests.lab kernel >/dev/null
    .venv/bin/python -m tests.junit_schema >/dev/null
}

demo() {
    deps
    local root=.lab/demo inv=.lab/demo/inventory.ini rc
    .venv/bin/python -m tests.lab up --root "$root" \
        --hosts el6:1,el6+tmpfs:1,el7:1,el7+tmpfs:1,el6-i686:1,el6-oldkernel:1,el7@uml:1,el8-podman:1,el9+tmpfs:1
    step "pyinstall check: can each host run the runtime? (the i686 and old-kernel hosts must fail)"
    rc=0; .venv/bin/pyinstall check -i "$inv" || rc=$?
    echo "pyinstall check exited $rc (0 all passed, 2 some failed their checks, 4 some unreachable)"
    step "pyinstall provision: the runtime on every host that passed (the two others stay untouched)"
    rc=0; .venv/bin/pyinstall provision "$inv" || rc=$?
    echo "pyinstall provision exited $rc"
    step "pyinstall provision again: nothing left to change"
    rc=0; .venv/bin/pyinstall provision "$inv" --limit '!el6_i686:!el6_oldkernel' || rc=$?
    echo "pyinstall provision exited $rc"
    step "pyinstall info: what runs, validated, with a fleet summary and an HTML report"
    rc=0; .venv/bin/pyinstall info "$inv" --limit '!el6_i686:!el6_oldkernel' --html "$root/fleet.html" || rc=$?
    echo "pyinstall info exited $rc (0 valid, 2 some invalid, 4 some unreachable)"
    step "pyinstall verify: testinfra proof on each host, a container run from the image pyinstall carries"
    rc=0; .venv/bin/pyinstall verify "$inv" --limit '!el6_i686:!el6_oldkernel' || rc=$?
    echo "pyinstall verify exited $rc (0 all passed, 2 some failed, 4 some unreachable)"
    cat <<EOT

The fleet runs on this machine (see tests/lab/README.md for what is real and what is simulated).
  facts:      .venv/bin/pyinstall facts -i $inv
  dry run:    .venv/bin/pyinstall provision $inv --check --diff
  report:     $root/fleet.html
  history:    .venv/bin/pyinstall runs   (in a browser: .venv/bin/pyinstall runs serve, then http://127.0.0.1:8077/)
  log in:     \$(.venv/bin/python -m tests.lab ssh --root $root el6-01)
  status:     .venv/bin/python -m tests.lab status --root $root
  tear down:  .venv/bin/python -m tests.lab down --root $root --purge
EOT
}

step() {
    printf '\n\033[1m== %s\033[0m\n' "$1"
}

run_tests() {
    deps
    .venv/bin/ruff check .
    local rc=0
    # Two workers, each with a lab of its own, a module's tests on one of them (tests/conftest.py): the lab's
    # hosts spend much of their time waiting (SSH, dnf, dockerd), so two streams share the machine well.
    # The 25 slowest are printed for keeping CI under its budget.
    .venv/bin/python -m pytest -ra --durations=25 -n "${PYINSTALL_TEST_WORKERS:-2}" --dist loadfile \
        --no-loadscope-reorder "$@" || rc=$?
    if [ "$rc" = 5 ]; then
        echo "setup.sh: pytest collected no tests" >&2
    fi
    return "$rc"
}

image() {
    deps
    .venv/bin/python -m image.build "$@"
}

case "${1:-}" in
    deps) deps ;;
    image) shift; image "$@" ;;
    demo) demo ;;
    test) shift; run_tests "$@" ;;
    *) echo "usage: bash setup.sh demo|test|image|deps" >&2; exit 2 ;;
esac
