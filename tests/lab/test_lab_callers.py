"""Caller-side telemetry: Envoy's access log read into `reporter="source"` series, line by line and through a real
Envoy whose canary subset reaches no pod."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.lab import TrafficLab, wait_for
from e2e.lab.backend import ISTIO_DURATION_BUCKETS_MS
from e2e.lab.callers import (
    AccessLogTail,
    AccessRecord,
    Destination,
    caller_labels,
    destination_of,
    parse_access_line,
)

pytestmark = pytest.mark.timeout(60)

DESTINATIONS = {v: Destination("app", "shop", subset=v, workload=f"app-{v}", version=v) for v in ("stable", "canary")}


def _line(**fields: object) -> str:
    base: dict[str, object] = {
        "response_code": 200,
        "response_flags": "-",
        "upstream_cluster": "stable",
        "upstream_host": "127.0.0.1:4000",
        "duration_ms": 3,
    }
    return json.dumps({**base, **fields})


@pytest.mark.parametrize(
    ("line", "record"),
    [
        (_line(), AccessRecord(200, "-", "stable", "127.0.0.1:4000", 3.0)),
        (
            _line(response_code=503, response_flags="UH", upstream_cluster="canary", upstream_host=None),
            AccessRecord(503, "UH", "canary", None, 3.0),
        ),
        (  # Envoy's text format writes a missing value as "-"
            _line(response_code="404", response_flags="NR", upstream_cluster="-", upstream_host="-"),
            AccessRecord(404, "NR", None, None, 3.0),
        ),
        (_line(response_code=None, duration_ms=None), AccessRecord(0, "-", "stable", "127.0.0.1:4000", 0.0)),
        ("", None),
        ("not json", None),
        ('["a list"]', None),
        ('{"no_response_code": 1}', None),
        (_line(response_code="abc"), None),
    ],
)
def test_access_lines_parse_into_records(line: str, record: AccessRecord | None) -> None:
    assert parse_access_line(line) == record


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (  # a host of the canary subset answered
            AccessRecord(200, "-", "canary", "127.0.0.1:4001", 1.0),
            {"destination_workload": "app-canary", "destination_workload_namespace": "shop",
             "destination_subset": "canary", "destination_version": "canary", "response_code": "200"},
        ),
        (  # the subset selects no pod: Envoy answered, so the service is known and the workload is not
            AccessRecord(503, "UH", "canary", None, 0.0),
            {"destination_workload": "unknown", "destination_workload_namespace": "unknown",
             "destination_service": "app.shop.svc.cluster.local", "destination_service_name": "app",
             "destination_service_namespace": "shop", "destination_subset": "canary", "destination_app": "unknown",
             "destination_version": "unknown", "response_code": "503", "response_flags": "UH"},
        ),
        (  # no route: no cluster, nothing known about the destination
            AccessRecord(404, "NR", None, None, 0.0),
            {"destination_workload": "unknown", "destination_service": "unknown", "destination_subset": ""},
        ),
    ],
)  # fmt: skip
def test_labels_are_those_of_istios_source_reporter(record: AccessRecord, expected: Mapping[str, str]) -> None:
    labels = caller_labels(record, DESTINATIONS, "loadgen", "shop")
    assert labels["reporter"] == "source"
    assert labels["source_workload"] == "loadgen"
    assert labels["connection_security_policy"] == "unknown"
    assert {k: labels[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("cluster", "version"),
    [
        ("canary", "canary"),  # the lab's own cluster (file mode)
        ("outbound|8080|canary|app.shop.svc.cluster.local", "canary"),  # istiod's: a subset of the service
        ("outbound|8080|stable|app.shop.svc.cluster.local;", "stable"),  # as %UPSTREAM_CLUSTER% prints it
        ("outbound|8080||app-canary.shop.svc.cluster.local", "canary"),  # a version's own service
        ("outbound|8080||app.shop.svc.cluster.local", None),  # the service without a subset: no one version
        ("outbound|8080|canary|app.other.svc.cluster.local", None),  # another namespace's service
        ("outbound|8080|blue|app.shop.svc.cluster.local", None),  # a subset the lab does not run
        ("inbound|8080||app.shop.svc.cluster.local", None),
        ("PassthroughCluster", None),
        (None, None),
    ],
)
def test_clusters_are_read_back_into_the_lab_s_versions(cluster: str | None, version: str | None) -> None:
    found = destination_of(cluster, DESTINATIONS)
    assert (found.version if found is not None else None) == version


def test_a_destination_without_a_subset_stands_for_its_whole_host() -> None:
    """A route to a Kubernetes Service of its own (Argo Rollouts' host-level split) reports that Service."""
    whole = {"host:app-canary": Destination("app-canary", "shop", "", "app", "unknown"), **DESTINATIONS}
    found = destination_of("outbound|8080||app-canary.shop.svc.cluster.local", whole)
    assert found is not None
    assert found.fqdn == "app-canary.shop.svc.cluster.local"
    assert destination_of("outbound|8080|canary|app-canary.shop.svc.cluster.local", whole) is None


def test_the_tail_reads_whole_lines_once_and_starts_over_on_a_new_file(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    tail = AccessLogTail(log)
    assert tail.read_lines() == []  # not written yet
    log.write_text("one\ntw")
    assert tail.read_lines() == ["one"]
    assert tail.read_lines() == []  # "tw" is not a line yet
    with log.open("a") as f:
        f.write("o\nthree\n")
    assert tail.read_lines() == ["two", "three"]
    log.write_text("fresh\n")  # truncated and rewritten: shorter than what was read
    assert tail.read_lines() == ["fresh"]
    replacement = tmp_path / "new.log"
    replacement.write_text("rotated one\nrotated two\n")
    replacement.replace(log)
    assert tail.read_lines() == ["rotated one", "rotated two"]


def _requests_total(exposition: str) -> dict[tuple[str, str, str, str, str], float]:
    """(reporter, subset, workload, code, flags) → count, from a Prometheus text exposition."""
    out: dict[tuple[str, str, str, str, str], float] = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == "istio_requests_total":
                key = tuple(
                    s.labels.get(k, "")
                    for k in ("reporter", "destination_subset", "destination_workload", "response_code",
                              "response_flags")
                )  # fmt: skip
                out[key] = out.get(key, 0.0) + s.value  # type: ignore[index]
    return out


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, http.get(url) as r:
        assert r.status == 200
        return await r.text()


async def test_an_empty_canary_subset_is_seen_only_by_the_caller_as_503_uh() -> None:
    async with TrafficLab() as lab:
        await lab.apply_virtualservice(TrafficLab.weighted_virtualservice({"stable": 50, "canary": 50}))
        took = await lab.set_subset_endpoints("canary", False)
        assert took < 2.0
        result = await lab.load(rate_per_s=100, max_requests=60, max_duration_s=5).run()
        assert set(result.statuses()) == {200, 503}
        assert result.counts()[None] == result.statuses()[503]  # no backend answered the 503s

        await wait_for(lambda: lab.callers.poll() >= 0 and lab.callers.records == 60, 5, "60 lines in the access log")
        exposition = await _scrape(f"{lab.callers.url}/metrics")
        seen = _requests_total(exposition)
        failed = result.statuses()[503]
        assert seen == {
            ("source", "canary", "unknown", "503", "UH"): failed,
            ("source", "stable", "app-stable", "200", "-"): 60 - failed,
        }
        buckets = {
            s.labels["le"]
            for f in text_string_to_metric_families(exposition)
            for s in f.samples
            if s.name == "istio_request_duration_milliseconds_bucket" and s.labels["destination_subset"] == "canary"
        }
        assert {float(b) for b in buckets} == {*map(float, ISTIO_DURATION_BUCKETS_MS), float("inf")}
        canary_side = _requests_total(await _scrape(f"{lab.backend_url('canary')}/metrics"))
        assert canary_side == {}  # the destination side of the canary heard nothing

        await lab.set_subset_endpoints("canary", True)
        again = await lab.load(rate_per_s=100, max_requests=40, max_duration_s=5).run()
        assert again.statuses() == {200: 40}
        assert "canary" in again.counts()
        await wait_for(lambda: lab.callers.poll() >= 0 and lab.callers.records == 100, 5, "100 lines")
        seen = _requests_total(await _scrape(f"{lab.callers.url}/metrics"))
        assert seen[("source", "canary", "app-canary", "200", "-")] == again.counts()["canary"]
        assert seen[("source", "canary", "unknown", "503", "UH")] == failed  # counters only grow
        assert lab.callers.skipped_lines == 0
