"""Shards: a release's shard from its label, each shard's finalizer, and which finalizers mean another shard still
holds a release; plus the `graygate run` flags that choose the shard and the peering lifetime."""

from __future__ import annotations

from typing import Any

import pytest

from graygate import cli
from graygate.domain.release.shards import (
    DEFAULT_SHARD,
    SHARD_LABEL,
    check_shard_name,
    finalizer_of,
    foreign_finalizers,
    moved_in,
    shard_of,
)
from graygate.wiring import OperatorSettings


@pytest.mark.parametrize(
    ("labels", "shard"),
    [
        ({}, DEFAULT_SHARD),
        ({"team": "shop"}, DEFAULT_SHARD),
        ({SHARD_LABEL: ""}, DEFAULT_SHARD),
        ({SHARD_LABEL: "default"}, DEFAULT_SHARD),
        ({SHARD_LABEL: "b"}, "b"),
    ],
)
def test_a_release_belongs_to_its_label_or_the_default_shard(labels: dict[str, str], shard: str) -> None:
    assert shard_of(labels) == shard


def test_the_default_shard_keeps_the_finalizer_releases_had_before_shards() -> None:
    assert finalizer_of(DEFAULT_SHARD) == "graygate.dev/finalizer"
    assert finalizer_of("b") == "graygate.dev/finalizer-b"


@pytest.mark.parametrize(
    ("finalizers", "shard", "foreign"),
    [
        ([], "b", []),
        (["graygate.dev/finalizer-b"], "b", []),
        (["graygate.dev/finalizer-a", "graygate.dev/finalizer-b"], "b", ["graygate.dev/finalizer-a"]),
        (["graygate.dev/finalizer"], "b", ["graygate.dev/finalizer"]),
        (["graygate.dev/finalizer-b"], DEFAULT_SHARD, ["graygate.dev/finalizer-b"]),
        (["example.com/other", "graygate.dev/finalizerx"], "b", []),
    ],
)
def test_foreign_finalizers_are_other_shards_only(finalizers: list[str], shard: str, foreign: list[str]) -> None:
    assert foreign_finalizers(finalizers, shard) == foreign


@pytest.mark.parametrize(
    ("finalizers", "last_shard", "shard", "moved"),
    [
        ([], None, "b", False),  # a new release, or one no operator that records the shard wrote yet
        (["graygate.dev/finalizer-b"], "b", "b", False),  # this shard's own release (a restart)
        (["graygate.dev/finalizer-a"], None, "b", True),  # shard a has not let it go yet
        (["graygate.dev/finalizer-a"], "a", "b", True),
        ([], "a", "b", True),  # shard a let go already: its tick in flight may still write
        (["graygate.dev/finalizer-b"], "a", "b", True),
        ([], "default", "default", False),
        (["graygate.dev/finalizer-a"], "default", "default", True),
        (["example.com/other"], None, "b", False),
    ],
)
def test_moved_in_by_another_shards_finalizer_or_status(
    finalizers: list[str], last_shard: str | None, shard: str, moved: bool
) -> None:
    assert moved_in(finalizers, last_shard, shard) is moved


@pytest.mark.parametrize("name", ["a", "shard-1", "x" * 40, DEFAULT_SHARD])
def test_shard_names_that_fit_a_label_and_a_finalizer(name: str) -> None:
    assert check_shard_name(name) == name
    assert len(finalizer_of(name).split("/")[1]) <= 63


@pytest.mark.parametrize("name", ["", "A", "-a", "a-", "a_b", "a.b", "x" * 41])
def test_shard_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a shard"):
        check_shard_name(name)


def _run_settings(monkeypatch: pytest.MonkeyPatch, *flags: str) -> OperatorSettings:
    seen: list[OperatorSettings] = []

    def run(settings: OperatorSettings) -> None:
        seen.append(settings)

    import graygate.handlers

    monkeypatch.setattr(graygate.handlers, "run", run)
    assert cli.main(["run", "--namespace=x", *flags]) == 0
    return seen[0]


def test_run_flags_choose_the_shard_and_the_peering_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = _run_settings(monkeypatch)
    assert (defaults.shard, defaults.peering_lifetime_s) == (DEFAULT_SHARD, 60)
    chosen = _run_settings(monkeypatch, "--shard=b", "--peering=graygate", "--peering-lifetime=5")
    assert (chosen.shard, chosen.peering, chosen.peering_lifetime_s) == ("b", "graygate", 5)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--shard=B"], "--shard: 'B' cannot name a shard"), (["--peering-lifetime=1"], "at least 2 seconds")],
)
def test_run_refuses_a_bad_shard_or_lifetime(
    flags: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import graygate.handlers

    monkeypatch.setattr(graygate.handlers, "run", lambda settings: pytest.fail("ran"))
    assert cli.main(["run", *flags]) != 0
    assert message in capsys.readouterr().err
