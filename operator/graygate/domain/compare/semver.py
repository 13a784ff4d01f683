"""Semantic versions and the ranges a client declares it can talk to, for the API-compatibility handshake.

Why: a canary announces its API version and its callers (or the release spec) declare a range they accept; the
gate asks `satisfies(version, range)`. The grammar is the common subset of npm's node-semver, written here because
one function does not justify a dependency:

- a version is `MAJOR.MINOR.PATCH[-prerelease][+build]`, an optional leading `v` allowed (`v1.4.0`);
- a range is comparator sets joined by `||` (any may match); a set is comparators joined by spaces (all must
  match), or a hyphen range `1.2 - 2.3.4`;
- a comparator is `=`, `<`, `<=`, `>`, `>=`, `^` or `~` followed by a full or partial version, or a partial
  version alone: `1.x`, `1.2.*`, `1`, `*`.

Partials and the shorthand expand as node-semver does: `^1.2` is `>=1.2.0 <2.0.0`, `^0.2.3` is `>=0.2.3 <0.3.0`,
`^0.0.3` is `>=0.0.3 <0.0.4`, `~1.2.3` is `>=1.2.3 <1.3.0`, `~1` is `>=1.0.0 <2.0.0`, `1.x` is `>=1.0.0 <2.0.0`,
`>1.2` is `>=1.3.0`, `<=1.2` is `<1.3.0`, and `<2` is `<2.0.0`.

Prereleases follow node-semver's rule too: `2.0.0-rc.1` satisfies a set only when one of its comparators names a
prerelease of the same `2.0.0`. So `>=1.0.0` does not accept `2.0.0-rc.1` (a release candidate is not "1.x or
later" for a client that never opted in), while `>=2.0.0-rc.0` does. Build metadata never matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["SemverError", "Version", "parse_version", "satisfies"]

Operator = Literal["<", "<=", ">", ">=", "="]

_VERSION = re.compile(
    r"v?(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)\.(?P<patch>0|[1-9][0-9]*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_PARTIAL = re.compile(
    r"v?(?P<major>0|[1-9][0-9]*|[xX*])(?:\.(?P<minor>0|[1-9][0-9]*|[xX*])(?:\.(?P<patch>0|[1-9][0-9]*|[xX*])"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?"
)
_COMPARATOR = re.compile(r"(?P<op><=|>=|<|>|=|\^|~>?)?\s*(?P<version>\S*)")
_HYPHEN = re.compile(r"^\s*(?P<low>\S+)\s+-\s+(?P<high>\S+)\s*$")


class SemverError(ValueError):
    """A version or a range that does not parse."""


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed semantic version; build metadata is dropped (it never affects precedence)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(str(part) for part in self.prerelease) if self.prerelease else "")

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 by semver precedence (a prerelease ranks below its release)."""
        if self.core != other.core:
            return -1 if self.core < other.core else 1
        return _compare_prerelease(self.prerelease, other.prerelease)


def _compare_prerelease(left: tuple[int | str, ...], right: tuple[int | str, ...]) -> int:
    if not left or not right:
        return (not left) - (not right)  # no prerelease ranks above any prerelease
    for a, b in zip(left, right, strict=False):
        if a == b:
            continue
        if isinstance(a, int) and isinstance(b, int):
            return -1 if a < b else 1
        if isinstance(a, int) != isinstance(b, int):
            return -1 if isinstance(a, int) else 1  # numeric identifiers rank below alphanumeric ones
        return -1 if str(a) < str(b) else 1
    return (len(left) > len(right)) - (len(left) < len(right))


def _prerelease(text: str | None) -> tuple[int | str, ...]:
    if not text:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def parse_version(text: str) -> Version:
    """Parse a full version (`1.2.3`, `v1.2.3-rc.1+build.5`)."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise SemverError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])")
    return Version(int(match["major"]), int(match["minor"]), int(match["patch"]), _prerelease(match["pre"]))


@dataclass(frozen=True, slots=True)
class _Comparator:
    op: Operator
    version: Version

    def test(self, version: Version) -> bool:
        order = version.compare(self.version)
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0, "=": order == 0}[self.op]


_ANY: tuple[_Comparator, ...] = (_Comparator(">=", Version(0, 0, 0)),)


def satisfies(version: str, range: str) -> bool:
    """True when `version` is inside `range` (named as every semver library names it). Raises `SemverError` when
    either does not parse."""
    parsed = parse_version(version)
    return any(_set_satisfied(parsed, comparators) for comparators in _parse_range(range))


def _set_satisfied(version: Version, comparators: tuple[_Comparator, ...]) -> bool:
    if not all(comparator.test(version) for comparator in comparators):
        return False
    if not version.prerelease:
        return True
    return any(c.version.prerelease and c.version.core == version.core for c in comparators)


def _parse_range(text: str) -> tuple[tuple[_Comparator, ...], ...]:
    sets = tuple(_parse_set(part) for part in text.split("||"))
    if not sets:  # pragma: no cover - str.split always yields at least one part
        raise SemverError(f"empty range {text!r}")
    return sets


def _parse_set(text: str) -> tuple[_Comparator, ...]:
    hyphen = _HYPHEN.match(text)
    if hyphen:
        low = _expand(">=", hyphen["low"], text)
        high = _expand("<=", hyphen["high"], text)
        return low + high
    # `>= 1.2` is read as `>=1.2`: glue an operator to the version after it
    tokens = re.sub(r"(<=|>=|<|>|=|\^|~>?)\s+", r"\1", text.strip()).split()
    if not tokens:
        return _ANY
    comparators: list[_Comparator] = []
    for token in tokens:
        match = _COMPARATOR.fullmatch(token)
        if match is None or not match["version"]:
            raise SemverError(f"cannot read {token!r} in range {text.strip()!r}")
        comparators.extend(_expand(match["op"] or "", match["version"], text))
    return tuple(comparators)


def _expand(op: str, partial: str, context: str) -> tuple[_Comparator, ...]:
    match = _PARTIAL.fullmatch(partial)
    if match is None:
        raise SemverError(f"cannot read version {partial!r} in range {context.strip()!r}")
    parts = [match["major"], match["minor"], match["patch"]]
    known = 0
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            break
        known += 1
    major, minor, patch = (int(part) if index < known else 0 for index, part in enumerate(parts))
    pre = _prerelease(match["pre"]) if known == 3 else ()
    floor = Version(major, minor, patch, pre)
    if op == "^":
        return _caret(floor, known)
    if op in ("~", "~>"):
        return _tilde(floor, known)
    if known == 0:
        return _ANY if op in ("", "=", ">=", "<=") else (_Comparator("<", Version(0, 0, 0)),)
    if known == 3:
        return (_Comparator(_operator(op), floor),)
    ceiling = _bump(floor, known)
    if op in ("", "="):
        return (_Comparator(">=", floor), _Comparator("<", ceiling))
    if op == ">":
        return (_Comparator(">=", ceiling),)
    if op == "<=":
        return (_Comparator("<", ceiling),)
    return (_Comparator(_operator(op), floor),)  # >= 1.2 → >=1.2.0 ; < 2 → <2.0.0


def _operator(op: str) -> Operator:
    operators: dict[str, Operator] = {"": "=", "=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
    return operators[op]


def _bump(floor: Version, known: int) -> Version:
    """The first version past a partial: `1` → 2.0.0, `1.2` → 1.3.0."""
    if known == 1:
        return Version(floor.major + 1, 0, 0)
    return Version(floor.major, floor.minor + 1, 0)


def _caret(floor: Version, known: int) -> tuple[_Comparator, ...]:
    """Changes that do not modify the left-most non-zero part (of the parts given)."""
    if known == 0:
        return _ANY
    if floor.major > 0 or known == 1:
        ceiling = Version(floor.major + 1, 0, 0)
    elif floor.minor > 0 or known == 2:
        ceiling = Version(0, floor.minor + 1, 0)
    else:
        ceiling = Version(0, 0, floor.patch + 1)
    return (_Comparator(">=", floor), _Comparator("<", ceiling))


def _tilde(floor: Version, known: int) -> tuple[_Comparator, ...]:
    """Patch-level changes when a minor is given, minor-level when only a major is."""
    if known == 0:
        return _ANY
    ceiling = Version(floor.major + 1, 0, 0) if known == 1 else Version(floor.major, floor.minor + 1, 0)
    return (_Comparator(">=", floor), _Comparator("<", ceiling))
