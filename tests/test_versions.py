"""rpm_vercmp against known cases and, property-based, against rpm's own comparison."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installer.versions import built_for, evr_compare, kernel_at_least, rpm_vercmp, split_evr


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0.1", "2.0", 1),
        ("2.6.32-431.el6", "2.6.32-431.29.2.el6", -1),
        ("2.6.32-71.el6", "2.6.32-431.el6", -1),
        ("2.6.32-754.35.1.el6.x86_64", "2.6.32-431", 1),
        ("1.0a", "1.0", 1),
        ("1.0a", "1.0.1", -1),  # letters sort below numbers
        ("010", "10", 0),  # leading zeros do not count
        ("1.0~rc1", "1.0", -1),
        ("1.0^git1", "1.0", 1),
        ("1.0^git1", "1.0.1", -1),
        ("1_0", "1.0", 0),  # separators are all alike
        ("a", "B", 1),  # strcmp: lowercase after uppercase
        ("", "0", -1),
    ],
)
def test_known_cases(a: str, b: str, expected: int) -> None:
    assert rpm_vercmp(a, b) == expected
    assert rpm_vercmp(b, a) == -expected


def test_kernel_minimums() -> None:
    assert kernel_at_least("2.6.32-431.el6.x86_64", "2.6.32-431")
    assert kernel_at_least("2.6.32-431.29.2.el6.x86_64", "2.6.32-431")
    assert not kernel_at_least("2.6.32-358.el6.x86_64", "2.6.32-431")
    assert not kernel_at_least("2.6.32-71.el6.x86_64", "2.6.32-431")
    assert kernel_at_least("3.10.0-1160.el7.x86_64", "3.10.0")
    assert not kernel_at_least("3.10.0-327.el7.x86_64", "3.10.0-514")
    assert kernel_at_least("3.10.0-514.el7.x86_64", "3.10.0-514")
    assert not kernel_at_least("2.6.18-398.el5", "2.6.32-431")


def test_evr() -> None:
    assert split_evr("3:20.10.24-3.el7") == ("3", "20.10.24", "3.el7")
    assert split_evr("1.7.1") == ("0", "1.7.1", "")
    assert evr_compare("1:1.0-1", "2.0-1") == 1  # the epoch wins
    assert evr_compare("1.7.1", "1.7.1-2.el6") == 0  # no release on one side: versions decide


RPM = shutil.which("rpm")


def rpm_says(pairs: list[tuple[str, str]]) -> list[int]:
    """rpm's own rpmvercmp (through its embedded Lua), many pairs in one call."""
    lua = " ".join(f'print(rpm.vercmp("{a}", "{b}")) print(" ")' for a, b in pairs)
    out = subprocess.run([RPM, "--eval", f"%{{lua: {lua}}}"], capture_output=True, text=True, check=True).stdout
    return [int(x) for x in out.split()]


# Version-like strings from the characters rpm treats specially, and a few it skips. rpm's Lua
# vercmp parses EVRs, so versions and releases hold no "-" or ":" and are not empty.
version = st.text(alphabet="0123456789.abcXYZ~^_+", min_size=1, max_size=12)
evr = st.builds(
    lambda epoch, v, r: f"{epoch + ':' if epoch else ''}{v}{'-' + r if r else ''}",
    st.sampled_from(["", "0", "1", "10"]),
    version,
    st.one_of(st.just(""), version),
)


@pytest.mark.skipif(RPM is None, reason="rpm is not installed (bash setup.sh deps installs it)")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(version, version), min_size=1, max_size=20))
def test_vercmp_agrees_with_rpm(pairs: list[tuple[str, str]]) -> None:
    assert [rpm_vercmp(a, b) for a, b in pairs] == rpm_says(pairs)


@pytest.mark.skipif(RPM is None, reason="rpm is not installed (bash setup.sh deps installs it)")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(evr, evr), min_size=1, max_size=20))
def test_evr_compare_agrees_with_rpm(pairs: list[tuple[str, str]]) -> None:
    # As in rpm's dependency ranges ("docker-io = 1.7.1" matches any release of 1.7.1), a release given
    # on one side only is not compared; rpm's Lua vercmp would rank the side with a release higher.
    def as_dependency(a: str, b: str) -> tuple[str, str]:
        return (a.split("-")[0], b.split("-")[0]) if ("-" in a) != ("-" in b) else (a, b)

    assert [evr_compare(a, b) for a, b in pairs] == rpm_says([as_dependency(a, b) for a, b in pairs])


@pytest.mark.skipif(RPM is None, reason="rpm is not installed (bash setup.sh deps installs it)")
def test_agrees_with_rpm_on_real_kernels() -> None:
    kernels = [
        "2.6.32-71.el6",
        "2.6.32-358.el6",
        "2.6.32-431.el6",
        "2.6.32-431.29.2.el6",
        "2.6.32-754.35.1.el6",
        "3.10.0-123.el7",
        "3.10.0-514.el7",
        "3.10.0-1160.el7",
        "3.10.0-1160.119.1.el7",
        "2.6.32-431.el6.centos.plus",
    ]
    pairs = [(a, b) for a in kernels for b in kernels]
    assert [evr_compare(a, b) for a, b in pairs] == rpm_says(pairs)
    releases = [(a.split("-", 1)[1], b.split("-", 1)[1]) for a, b in pairs]
    assert [rpm_vercmp(a, b) for a, b in releases] == rpm_says(releases)


@pytest.mark.parametrize(
    ("evr", "release"),
    [("3:20.10.24-3.el7", 7), ("1.6.33-3.1.el8", 8), ("2:1.13.1-209.git7d71120.el7.centos", 7),
     ("4.18.0-513.5.1.el8_9", 8), ("26.1.3-1.el9", 9), ("1.7.1-1.el6", 6), ("2.27.0-1.fc38", None),
     ("20.10.24", None), ("1.0-1.el10", 10), ("1.0-1.elx", None)],
)  # fmt: skip
def test_a_builds_release_is_read_from_its_dist_tag(evr: str, release: int | None) -> None:
    assert built_for(evr) == release
