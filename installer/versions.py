"""RPM version comparison, exactly as rpm does it (rpmvercmp and EVR comparison).

Kernel releases are compared the same way: never by splitting on dots. ``2.6.32-431.el6`` sorts below
``2.6.32-431.29.2.el6`` and ``2.6.32-71.el6`` below ``2.6.32-431.el6``.
"""

from __future__ import annotations

import re

_DIGITS = "0123456789"
_ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = _DIGITS + _ALPHA


def rpm_vercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings like rpm's rpmvercmp: -1, 0 or 1."""
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and a[i] not in _ALNUM and a[i] not in "~^":
            i += 1
        while j < lb and b[j] not in _ALNUM and b[j] not in "~^":
            j += 1
        # "~" sorts before everything, even the end of the string: 1.0~rc1 < 1.0.
        if (i < la and a[i] == "~") or (j < lb and b[j] == "~"):
            if not (i < la and a[i] == "~"):
                return 1
            if not (j < lb and b[j] == "~"):
                return -1
            i, j = i + 1, j + 1
            continue
        # "^" sorts after the end of the string but before anything else: 1.0 < 1.0^git1 < 1.0.1.
        if (i < la and a[i] == "^") or (j < lb and b[j] == "^"):
            if i >= la:
                return -1
            if j >= lb:
                return 1
            if a[i] != "^":
                return 1
            if b[j] != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if i >= la or j >= lb:
            break
        chars = _DIGITS if a[i] in _DIGITS else _ALPHA
        si, sj = i, j
        while i < la and a[i] in chars:
            i += 1
        while j < lb and b[j] in chars:
            j += 1
        seg_a, seg_b = a[si:i], b[sj:j]
        if not seg_b:  # segments of different types: a number is newer than letters
            return 1 if chars is _DIGITS else -1
        if chars is _DIGITS:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


_EVR = re.compile(r"^(?:(?P<epoch>\d+):)?(?P<version>[^-]*)(?:-(?P<release>.*))?$")


def split_evr(evr: str) -> tuple[str, str, str]:
    """``[epoch:]version[-release]`` -> (epoch, version, release); a missing epoch is "0"."""
    match = _EVR.match(evr.strip())
    if not match:  # the pattern accepts any string; kept for type checkers
        raise ValueError(f"not an EVR: {evr!r}")
    return match["epoch"] or "0", match["version"], match["release"] or ""


def evr_compare(a: str, b: str) -> int:
    """Compare ``[epoch:]version[-release]`` strings as rpm's labelCompare does.

    A release missing from either side is not compared (``2.6.32`` equals ``2.6.32-431.el6``), so a
    minimum can be stated as just a version.
    """
    ea, va, ra = split_evr(a)
    eb, vb, rb = split_evr(b)
    for x, y in ((ea, eb), (va, vb)):
        result = rpm_vercmp(x, y)
        if result:
            return result
    if not ra or not rb:
        return 0
    return rpm_vercmp(ra, rb)


def kernel_at_least(release: str, minimum: str) -> bool:
    """Is the running kernel ``release`` (``uname -r``) at least ``minimum`` (``2.6.32-431``)?"""
    return evr_compare(release, minimum) >= 0


def satisfies(evr: str, pin: str) -> bool:
    """Does a package at ``evr`` (``[epoch:]version-release``) satisfy the pin ``pin`` (``20.10.24``,
    ``20.10.24-3.el7`` or ``3:20.10.24-3.el7``)? Only the parts the pin gives are compared."""
    epoch, version, release = split_evr(evr)
    pin_epoch, pin_version, pin_release = split_evr(pin)
    if ":" in pin and rpm_vercmp(epoch, pin_epoch):
        return False
    if rpm_vercmp(version, pin_version):
        return False
    return not pin_release or rpm_vercmp(release, pin_release) == 0


_DIST_TAG = re.compile(r"\.el(\d+)(?![0-9])")


def built_for(evr: str) -> int | None:
    """The EL release a build names in its dist tag (``20.10.24-3.el7`` -> 7, ``1.el8_9`` -> 8); None when
    its release has no such tag."""
    match = _DIST_TAG.search(split_evr(evr)[2])
    return int(match[1]) if match else None


def newest(evrs: list[str]) -> str | None:
    """The highest of ``evrs``, as yum would pick it."""
    best = None
    for evr in evrs:
        if best is None or evr_compare(evr, best) > 0 or (evr_compare(evr, best) == 0 and len(evr) > len(best)):
            best = evr
    return best
