"""The semver handshake: `satisfies(version, range)` as node-semver answers it, case by case."""

from __future__ import annotations

import itertools

import pytest

from graygate.domain.compare.semver import SemverError, Version, parse_version, satisfies


@pytest.mark.parametrize(
    ("version", "range_", "expected"),
    [
        # caret: changes that keep the left-most non-zero part
        pytest.param("1.2.0", "^1.2", True, id="caret-partial-floor"),
        pytest.param("1.9.9", "^1.2", True, id="caret-partial-minor-up"),
        pytest.param("2.0.0", "^1.2", False, id="caret-partial-next-major"),
        pytest.param("1.1.9", "^1.2", False, id="caret-partial-below"),
        pytest.param("1.2.3", "^1.2.3", True, id="caret-floor"),
        pytest.param("1.2.2", "^1.2.3", False, id="caret-below-floor"),
        pytest.param("0.2.9", "^0.2.3", True, id="caret-zero-major-patch-up"),
        pytest.param("0.3.0", "^0.2.3", False, id="caret-zero-major-is-minor-locked"),
        pytest.param("0.0.3", "^0.0.3", True, id="caret-zero-zero-exact"),
        pytest.param("0.0.4", "^0.0.3", False, id="caret-zero-zero-is-patch-locked"),
        pytest.param("0.0.9", "^0.0", True, id="caret-zero-zero-partial"),
        pytest.param("0.1.0", "^0.0", False, id="caret-zero-zero-partial-ceiling"),
        pytest.param("0.9.0", "^0.x", True, id="caret-zero-x"),
        pytest.param("1.0.0", "^0.x", False, id="caret-zero-x-ceiling"),
        pytest.param("5.0.0", "^*", True, id="caret-any"),
        # tilde: patch changes when a minor is given, minor changes when only a major is
        pytest.param("1.2.3", "~1.2.3", True, id="tilde-floor"),
        pytest.param("1.2.9", "~1.2.3", True, id="tilde-patch-up"),
        pytest.param("1.3.0", "~1.2.3", False, id="tilde-next-minor"),
        pytest.param("1.2.0", "~1.2", True, id="tilde-partial"),
        pytest.param("1.3.0", "~1.2", False, id="tilde-partial-ceiling"),
        pytest.param("1.9.0", "~1", True, id="tilde-major-only"),
        pytest.param("2.0.0", "~1", False, id="tilde-major-only-ceiling"),
        pytest.param("1.2.4", "~>1.2.3", True, id="tilde-arrow-alias"),
        # comparator sets: all must hold
        pytest.param("1.2.0", ">=1.2 <2", True, id="set-floor"),
        pytest.param("1.99.0", ">=1.2 <2", True, id="set-inside"),
        pytest.param("2.0.0", ">=1.2 <2", False, id="set-ceiling-excluded"),
        pytest.param("1.1.9", ">=1.2 <2", False, id="set-below"),
        pytest.param("1.5.0", ">= 1.2 < 2", True, id="set-spaces-after-operators"),
        pytest.param("1.3.0", ">1.2", True, id="greater-than-partial-means-next-minor"),
        pytest.param("1.2.9", ">1.2", False, id="greater-than-partial-excludes-the-whole-minor"),
        pytest.param("1.2.9", "<=1.2", True, id="at-most-partial-includes-the-whole-minor"),
        pytest.param("1.3.0", "<=1.2", False, id="at-most-partial-ceiling"),
        pytest.param("1.2.3", "=1.2.3", True, id="equals"),
        pytest.param("1.2.4", "1.2.3", False, id="bare-full-version-is-exact"),
        pytest.param("1.2.4", ">1.2.3", True, id="greater-than-full"),
        pytest.param("1.2.3", "<1.2.3", False, id="less-than-full"),
        # x-ranges
        pytest.param("1.0.0", "1.x", True, id="x-floor"),
        pytest.param("1.99.99", "1.x", True, id="x-inside"),
        pytest.param("2.0.0", "1.x", False, id="x-ceiling"),
        pytest.param("1.2.7", "1.2.*", True, id="star-patch"),
        pytest.param("1.3.0", "1.2.X", False, id="capital-x-ceiling"),
        pytest.param("1.4.0", "1", True, id="major-only"),
        pytest.param("9.9.9", "*", True, id="star"),
        pytest.param("9.9.9", "", True, id="empty-is-any"),
        pytest.param("0.0.0", ">=0.0.0", True, id="zero"),
        pytest.param("1.0.0", "<*", False, id="less-than-any-is-nothing"),
        # alternatives and hyphen ranges
        pytest.param("3.1.0", "^1.2 || ^3", True, id="or-second"),
        pytest.param("2.1.0", "^1.2 || ^3", False, id="or-neither"),
        pytest.param("1.2.0", "1.2 - 2.3.4", True, id="hyphen-floor"),
        pytest.param("2.3.4", "1.2 - 2.3.4", True, id="hyphen-ceiling-included"),
        pytest.param("2.3.5", "1.2 - 2.3.4", False, id="hyphen-above"),
        pytest.param("2.3.9", "1.2.3 - 2.3", True, id="hyphen-partial-ceiling-covers-the-minor"),
        pytest.param("2.4.0", "1.2.3 - 2.3", False, id="hyphen-partial-ceiling"),
        # prereleases need a comparator with a prerelease of the same core
        pytest.param("2.0.0-rc.1", ">=1.0.0", False, id="prerelease-not-opted-in"),
        pytest.param("2.0.0-rc.1", ">=2.0.0-rc.0", True, id="prerelease-opted-in"),
        pytest.param("2.0.0-rc.1", ">=2.0.0-rc.2", False, id="prerelease-below-floor"),
        pytest.param("2.0.1-rc.1", ">=2.0.0-rc.0", False, id="prerelease-of-another-core"),
        pytest.param("2.0.0", ">=2.0.0-rc.0", True, id="release-above-its-prereleases"),
        pytest.param("2.0.0-rc.1", "<2", False, id="prerelease-of-the-ceiling-is-out"),
        pytest.param("1.2.3-beta.4", "^1.2.3-beta.2", True, id="caret-prerelease"),
        pytest.param("1.2.4-beta.4", "^1.2.3-beta.2", False, id="caret-prerelease-other-core"),
        # decoration
        pytest.param("v1.2.3", "^v1.2", True, id="leading-v"),
        pytest.param("1.2.3+build.7", "=1.2.3", True, id="build-metadata-ignored"),
        pytest.param(" 1.2.3 ", "  ^1.2  ", True, id="surrounding-spaces"),
    ],
)
def test_satisfies(version: str, range_: str, expected: bool) -> None:
    assert satisfies(version, range_) is expected


@pytest.mark.parametrize(
    ("version", "range_", "message"),
    [
        pytest.param("1.2", "^1", "not a semantic version", id="partial-version"),
        pytest.param("01.2.3", "^1", "not a semantic version", id="leading-zero"),
        pytest.param("1.2.3-", "^1", "not a semantic version", id="empty-prerelease"),
        pytest.param("latest", "^1", "not a semantic version", id="a-word"),
        pytest.param("1.2.3", "^banana", "cannot read version", id="range-word"),
        pytest.param("1.2.3", ">=", "cannot read", id="operator-alone"),
        pytest.param("1.2.3", "^01.2", "cannot read version", id="range-leading-zero"),
        pytest.param("1.2.3", "1.2.3.4", "cannot read version", id="four-parts"),
    ],
)
def test_what_does_not_parse_says_so(version: str, range_: str, message: str) -> None:
    with pytest.raises(SemverError, match=message):
        satisfies(version, range_)


def test_precedence_follows_semver_org() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    versions = [parse_version(text) for text in ordered]
    for lower, higher in itertools.pairwise(versions):
        assert lower.compare(higher) == -1, (lower, higher)
        assert higher.compare(lower) == 1
        assert lower.compare(lower) == 0


def test_a_version_prints_without_its_build() -> None:
    assert str(parse_version("v1.2.3-rc.1+build.5")) == "1.2.3-rc.1"
    assert parse_version("1.2.3") == Version(1, 2, 3)
