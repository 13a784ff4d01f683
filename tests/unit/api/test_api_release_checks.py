"""The release-check gate kinds (`metricParity`, `apiCompat`, `hotReload`, `etcdConfig`) and `preCheck` in the
API: defaults, the rules pydantic and CEL share, and round trips to the manifest form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from graygate.api import Analysis, Gate
from graygate.api.crd import build_crd

GATES = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["analysis"]
ETCD = {"endpoints": ["etcd-0.config:2379", "[::1]:2379"]}


def gate(**fields: Any) -> Gate:
    return Gate.model_validate({"name": "check"} | fields)


def test_defaults() -> None:
    parity = gate(metricParity={"canaryUrl": "http://c/metrics"})
    assert parity.pre_check is False
    assert parity.metric_parity is not None
    assert (parity.metric_parity.lint_severity, parity.metric_parity.lint_scope) == ("warning", "added")
    assert parity.metric_parity.stable_url is None
    reload = gate(hotReload={"etcd": ETCD, "key": "/app/probe", "url": "http://c/config", "jsonPath": "$.probe"})
    assert reload.hot_reload is not None
    check = reload.hot_reload
    assert (check.ttl, check.deadline, check.poll_interval) == (
        timedelta(seconds=60),
        timedelta(seconds=10),
        timedelta(milliseconds=500),
    )
    assert check.etcd.dial_timeout == timedelta(seconds=2)
    config = gate(etcdConfig={"etcd": ETCD, "prefix": "/app/", "url": "http://c/config", "jsonPath": "$.hash"})
    assert config.etcd_config is not None
    assert config.etcd_config.compare == "hash"
    assert config.check.kind == "etcdConfig"


def test_round_trip_through_the_manifest_form() -> None:
    written = {
        "name": "api",
        "preCheck": True,
        "apiCompat": {
            "stableUrl": "http://s/openapi.json",
            "canaryUrl": "http://c/openapi.yaml",
            "version": {"url": "http://c/version", "jsonPath": "$.api.version", "range": ">=1.4 <2"},
            "timeout": "1.5s",
        },
    }
    parsed = Gate.model_validate(written)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    assert dumped == written
    assert Gate.model_validate(dumped) == parsed


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"metricParity": {"canaryUrl": "ftp://c/metrics"}}, "canaryUrl"),
        ({"metricParity": {"canaryUrl": "http://c/m", "required": ["a_total", "a_total"]}}, "repeated: a_total"),
        ({"metricParity": {"canaryUrl": "http://c/m", "required": ["not a name"]}}, "required.0"),
        ({"hotReload": {"etcd": ETCD, "key": "/k", "url": "http://c", "jsonPath": "probe"}}, "jsonPath"),
        (
            {"hotReload": {"etcd": ETCD, "key": "/k", "url": "http://c", "jsonPath": "$.p", "ttl": "500ms"}},
            "must be at least 1s",
        ),
        ({"etcdConfig": {"etcd": {"endpoints": []}, "prefix": "/", "url": "http://c", "jsonPath": "$.h"}}, "at least"),
        (
            {"etcdConfig": {"etcd": {"endpoints": ["a:1", "a:1"]}, "prefix": "/", "url": "http://c", "jsonPath": "$"}},
            "repeated: a:1",
        ),
    ],
)
def test_bad_fields_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        gate(**fields)


@pytest.mark.parametrize(
    ("kind", "check", "field"),
    [
        ("metricParity", {"canaryUrl": "http://c/m", "timeout": "30s"}, "timeout"),
        ("apiCompat", {"stableUrl": "http://s", "canaryUrl": "http://c", "timeout": "31s"}, "timeout"),
        ("hotReload", {"etcd": ETCD, "key": "/k", "url": "http://c", "jsonPath": "$.p", "deadline": "1m"}, "deadline"),
        (
            "etcdConfig",
            {"etcd": ETCD, "prefix": "/", "url": "http://c", "jsonPath": "$.h", "timeout": "30s"},
            "timeout",
        ),
    ],
)
def test_every_wait_is_shorter_than_the_interval_in_pydantic_and_in_cel(
    kind: str, check: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=f"{kind} {field} .* must be shorter than the analysis interval 30s"):
        Analysis.model_validate({"interval": "30s", "gates": [{"name": "g", kind: check}]})
    messages = [rule["message"] for rule in GATES["x-kubernetes-validations"]]
    assert f"every {kind} {field} must be shorter than the analysis interval" in messages


def test_the_crd_carries_the_tls_pair_rule() -> None:
    tls = GATES["properties"]["gates"]["items"]["properties"]["hotReload"]["properties"]["etcd"]["properties"]["tls"]
    assert [rule["rule"] for rule in tls["x-kubernetes-validations"]] == ["has(self.certKey) == has(self.keyKey)"]
