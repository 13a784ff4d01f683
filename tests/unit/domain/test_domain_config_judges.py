"""The judges of `hotReload` and `etcdConfig`, one measurement per row: both sides of a disagreement in the
message, etcd trouble as `Error`, canary trouble as `Fail`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graygate.api import Gate, Outcome
from graygate.domain.analysis.etcd_config import EtcdConfigMeasurement, PrefixReading
from graygate.domain.analysis.hot_reload import HotReloadMeasurement
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.measurements import DocumentReading

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ETCD = {"endpoints": ["etcd:2379"]}
URL = "http://app-canary:8080/config"
HASH = "sha256:" + "ab" * 32


def reload_gate() -> Gate:
    check = {"etcd": ETCD, "key": "/app/config/probe", "url": URL, "jsonPath": "$.probe", "deadline": "5s"}
    return Gate.model_validate({"name": "reload", "hotReload": check})


def reloaded(**fields: Any) -> HotReloadMeasurement:
    values: dict[str, Any] = {
        "gate": "reload",
        "observed_at": NOW,
        "key": "/app/config/probe",
        "url": URL,
        "json_path": "$.probe",
        "deadline": timedelta(seconds=5),
        "nonce": "graygate-1234",
        "waited": timedelta(seconds=0.4),
        "polls": 2,
    }
    return HotReloadMeasurement(**(values | fields))


@pytest.mark.parametrize(
    ("measurement", "outcome", "words"),
    [
        (reloaded(reported="graygate-1234"), Outcome.PASS, ["reloaded in 0.4s"]),
        (
            reloaded(reported="graygate-0000", polls=11, waited=timedelta(seconds=5)),
            Outcome.FAIL,
            ["canary did not reload within 5s", "it reports 'graygate-0000', not 'graygate-1234'", "11 polls"],
        ),
        (
            reloaded(report_error=f"{URL}: connection failed: refused", polls=1),
            Outcome.FAIL,
            ["canary did not reload within 5s", "connection failed", "1 poll)"],
        ),
        (
            reloaded(reported="x" * 500),
            Outcome.FAIL,
            ["it reports 'xxxx"],
        ),
        (
            reloaded(nonce=None, polls=0, error="no etcd endpoint answered: etcd:2379: UNAVAILABLE"),
            Outcome.ERROR,
            ["could not write the probe key /app/config/probe", "UNAVAILABLE"],
        ),
    ],
    ids=["reloaded", "old-value", "no-answer", "long-value-cut", "etcd-down"],
)
def test_hot_reload(measurement: HotReloadMeasurement, outcome: Outcome, words: list[str]) -> None:
    verdict = judge(reload_gate(), measurement)
    assert verdict.outcome is outcome, verdict.reason
    for word in words:
        assert word in verdict.reason
    assert len(verdict.reason) < 300
    assert verdict.threshold == "$.probe == the nonce within 5s"


def config_gate(compare: str = "hash") -> Gate:
    check = {"etcd": ETCD, "prefix": "/app/config/", "compare": compare, "url": URL, "jsonPath": "$.config"}
    return Gate.model_validate({"name": "config", "etcdConfig": check})


STATE = PrefixReading(prefix="/app/config/", hash=HASH, last_modified=57, revision=60, keys=3)


def config(report: object = None, *, state: PrefixReading | None = STATE, **fields: Any) -> EtcdConfigMeasurement:
    answer = DocumentReading(url=URL, content=report, error=None if report is not None else "answered status 500")
    return EtcdConfigMeasurement(gate="config", observed_at=NOW, state=state, report=answer, **fields)


@pytest.mark.parametrize(
    ("compare", "measurement", "outcome", "words"),
    [
        ("hash", config({"config": HASH}), Outcome.PASS, ["runs the current /app/config/", "3 keys"]),
        ("hash", config({"config": HASH.removeprefix("sha256:").upper()}), Outcome.PASS, ["current"]),
        (
            "hash",
            config({"config": "sha256:" + "cd" * 32}),
            Outcome.FAIL,
            [f"expected {HASH}", "3 keys at revision 60", "the canary reports sha256:cdcd"],
        ),
        ("revision", config({"config": 57}), Outcome.PASS, ["at revision 57, after its last change (57)"]),
        ("revision", config({"config": "59"}), Outcome.PASS, ["revision 59"]),
        (
            "revision",
            config({"config": 42}),
            Outcome.FAIL,
            ["read at revision 42", "last changed at revision 57", "expected >= 57, reported 42"],
        ),
        ("revision", config({"config": 61}), Outcome.FAIL, ["newer than etcd's current revision 60"]),
        ("revision", config({"config": "latest"}), Outcome.FAIL, ["'latest' as its revision, not a number"]),
        ("hash", config({"other": 1}), Outcome.FAIL, ["no $.config", "no such key"]),
        ("hash", config({"config": None}), Outcome.FAIL, ["it is null"]),
        ("hash", config(None), Outcome.FAIL, ["does not report its configuration", "status 500"]),
        ("hash", config(state=None, error="EtcdAuthError: permission denied"), Outcome.ERROR, ["permission denied"]),
        (
            "hash",
            config(
                {"config": HASH},
                state=PrefixReading(prefix="/app/config/", hash=HASH, last_modified=0, revision=9, keys=0),
            ),
            Outcome.ERROR,
            ["no key under /app/config/"],
        ),
    ],
    ids=[
        "hash-same",
        "hash-bare-uppercase",
        "hash-differs",
        "revision-exact",
        "revision-later-read",
        "revision-stale",
        "revision-from-elsewhere",
        "revision-not-a-number",
        "path-missing",
        "path-null",
        "canary-unreadable",
        "etcd-unreadable",
        "prefix-empty",
    ],
)
def test_etcd_config(compare: str, measurement: EtcdConfigMeasurement, outcome: Outcome, words: list[str]) -> None:
    verdict = judge(config_gate(compare), measurement)
    assert verdict.outcome is outcome, verdict.reason
    for word in words:
        assert word in verdict.reason


def test_the_verdict_shows_expected_and_reported() -> None:
    verdict = judge(config_gate("revision"), config({"config": 42}))
    assert (verdict.value, verdict.threshold) == ("42", ">= 57 (the last change under /app/config/)")
    verdict = judge(config_gate(), config({"config": "sha256:00"}))
    assert (verdict.value, verdict.threshold) == ("sha256:00", HASH)
