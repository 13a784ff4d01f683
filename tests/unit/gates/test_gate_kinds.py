"""The table of gate kinds: every kind of the API has exactly one line, each line's parts agree on the kind, and a
kind that could not observe is still judged by its own judge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graygate.api.gates import CHECK_MODELS, Gate
from graygate.api.status import Outcome
from graygate.domain.analysis.judge import judge
from graygate.gates.kinds import KINDS, GateKind
from graygate.gates.tools import GateTools

NOW = datetime(2026, 3, 1, tzinfo=UTC)
REFUSED = "the URL is outside the allowlist"
ETCD = {"endpoints": ["127.0.0.1:2379"]}
EXAMPLES = {
    "httpProbe": {"url": "http://canary/healthz"},
    "prometheus": {"requestSuccessRate": {"min": 99}},
    "metricParity": {"canaryUrl": "http://canary/metrics"},
    "apiCompat": {"stableUrl": "http://stable/openapi.json", "canaryUrl": "http://canary/openapi.json"},
    "hotReload": {"etcd": ETCD, "key": "/app/probe", "url": "http://canary/config", "jsonPath": "$.probe"},
    "etcdConfig": {"etcd": ETCD, "prefix": "/app/", "url": "http://canary/config", "jsonPath": "$.hash"},
    "routingCheck": {"url": "http://gateway/"},
    "webhook": {"url": "http://hooks/run"},
}


def test_every_api_kind_has_exactly_one_line() -> None:
    models = [kind.model for kind in KINDS]
    assert len(models) == len(set(models)), "a kind has two lines"
    assert set(models) == set(CHECK_MODELS), "every member of GateCheck, and nothing else, has a line"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_the_model_and_the_measurement_name_the_same_kind(kind: GateKind) -> None:
    assert kind.measurement.kind == kind.model.kind == kind.name


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_check_that_could_not_be_observed_is_judged_by_its_own_kind(kind: GateKind) -> None:
    gate = Gate.model_validate({"name": "g", kind.name: EXAMPLES[kind.name]})
    measured = kind.measurement.unmeasured("g", gate.check, NOW, REFUSED)
    assert (type(measured), measured.gate, measured.error) == (kind.measurement, "g", REFUSED)
    verdict = judge(gate, measured, weight=0)
    assert (verdict.gate, verdict.kind) == ("g", kind.name)
    assert verdict.outcome in {Outcome.FAIL, Outcome.ERROR}


async def test_every_observer_is_built_from_the_shared_tools() -> None:
    tools = GateTools()
    observers = [kind.observer(tools) for kind in KINDS]
    for observer in observers:
        await observer.close()
    await tools.close()
