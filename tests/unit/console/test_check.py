"""`graygate check`'s report: the exit code follows the worst verdict, the JSON keeps every field, the table names
the gate that decided, and overrides rewrite only what they name. Then one real run against local HTTP servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graygate.api import Outcome
from graygate.console.check import (
    CheckReport,
    GateLine,
    UrlOverride,
    apply_overrides,
    exit_code,
    parse_url_override,
    render_human,
    render_json,
    report_of,
)
from graygate.console.check_run import CheckRequest, OfflineSecrets, load_release, run_check
from graygate.domain.analysis.verdicts import Verdict
from graygate.errors import GraygateError
from tests.cluster_support import ProbeTarget

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _line(name: str, verdict: Outcome, **extra: Any) -> GateLine:
    return GateLine(name=name, kind="httpProbe", outcome=verdict, reason=f"{name} said so", **extra)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome.PASS, 0),
        (Outcome.FAIL, 1),
        (Outcome.WAITING, 2),
        (Outcome.INCONCLUSIVE, 2),
        (Outcome.ERROR, 2),
    ],
)
def test_exit_code_per_outcome(outcome: Outcome, code: int) -> None:
    assert exit_code(outcome) == code


@pytest.mark.parametrize(
    ("verdicts", "worst", "code", "deciding"),
    [
        ((), Outcome.PASS, 0, ()),
        ((Outcome.PASS, Outcome.PASS), Outcome.PASS, 0, ()),
        ((Outcome.PASS, Outcome.INCONCLUSIVE), Outcome.INCONCLUSIVE, 2, ("g1",)),
        ((Outcome.ERROR, Outcome.FAIL, Outcome.FAIL), Outcome.FAIL, 1, ("g1", "g2")),
        ((Outcome.WAITING, Outcome.ERROR), Outcome.ERROR, 2, ("g1",)),
    ],
)
def test_the_release_verdict_is_the_worst_gate(
    verdicts: tuple[Outcome, ...], worst: Outcome, code: int, deciding: tuple[str, ...]
) -> None:
    report = CheckReport(release="shop/checkout", gates=tuple(_line(f"g{i}", v) for i, v in enumerate(verdicts)))
    assert (report.outcome, report.exit_code) == (worst, code)
    assert tuple(g.name for g in report.deciding) == deciding


def test_report_of_keeps_every_field_of_the_verdicts() -> None:
    verdict = Verdict(
        gate="success-rate", kind="prometheus", outcome=Outcome.FAIL, reason="71.4% < 99%", at=AT,
        value="71.4%", threshold=">= 99%", query="canary: sum(x)",
    )  # fmt: skip
    (line,) = report_of("shop/checkout", [verdict]).gates
    assert line == GateLine(
        name="success-rate", kind="prometheus", outcome=Outcome.FAIL, reason="71.4% < 99%",
        value="71.4%", threshold=">= 99%", query="canary: sum(x)",
    )  # fmt: skip


def test_json_report_has_the_documented_shape() -> None:
    report = CheckReport(
        release="shop/checkout",
        gates=(
            _line("health", Outcome.PASS, value="200", threshold="in [200]"),
            GateLine(name="rate", kind="prometheus", outcome=Outcome.FAIL, reason="low", query="canary: q"),
        ),
    )
    document = json.loads(render_json(report))
    assert document == {
        "release": "shop/checkout",
        "verdict": "Fail",
        "gates": [
            {"name": "health", "kind": "httpProbe", "verdict": "Pass", "value": "200", "threshold": "in [200]",
             "reason": "health said so"},
            {"name": "rate", "kind": "prometheus", "verdict": "Fail", "value": None, "threshold": None,
             "reason": "low", "query": "canary: q"},
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("verdicts", "ending"),
    [
        ((Outcome.PASS, Outcome.PASS), "shop/checkout: Pass (all 2 gate(s) passed)"),
        ((Outcome.PASS, Outcome.FAIL), "shop/checkout: Fail (failed: g1)"),
        ((Outcome.INCONCLUSIVE, Outcome.PASS), "shop/checkout: Inconclusive (could not judge: g0)"),
    ],
)
def test_human_report_ends_with_the_verdict_and_who_decided(verdicts: tuple[Outcome, ...], ending: str) -> None:
    report = CheckReport(release="shop/checkout", gates=tuple(_line(f"g{i}", v) for i, v in enumerate(verdicts)))
    text = render_human(report, color=False)
    assert text.splitlines()[-1] == ending
    assert "\033[" not in text


def test_human_report_is_one_aligned_line_per_gate_with_the_reason_last() -> None:
    report = CheckReport(
        release="shop/checkout",
        gates=(
            _line("health", Outcome.PASS, value="200", threshold="in [200]"),
            _line("a-longer-name", Outcome.FAIL, value="503", threshold="in [200]"),
        ),
    )
    header, first, second = render_human(report, color=False).splitlines()[:3]
    assert header.split() == ["GATE", "KIND", "VERDICT", "VALUE", "THRESHOLD", "REASON"]
    assert first.index("Pass") == second.index("Fail") == header.index("VERDICT")
    assert first.endswith("health said so")
    assert second.endswith("a-longer-name said so")


def test_human_report_colours_only_when_asked() -> None:
    report = CheckReport(release="r", gates=(_line("health", Outcome.FAIL),))
    assert "\033[31mFail" in render_human(report, color=True)


def test_no_gates_is_a_pass_and_says_so() -> None:
    report = CheckReport(release="shop/checkout", gates=())
    assert "no gates to check" in render_human(report, color=False)
    assert report.exit_code == 0


# ---- overrides ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("health=http://127.0.0.1:8080/healthz", UrlOverride("health", "http://127.0.0.1:8080/healthz")),
        ("parity.canaryUrl=https://c/metrics", UrlOverride("parity", "https://c/metrics", "canaryUrl")),
        ("a=http://x/?q=a=b", UrlOverride("a", "http://x/?q=a=b")),
    ],
)
def test_url_overrides_parse(text: str, expected: UrlOverride) -> None:
    assert parse_url_override(text) == expected


@pytest.mark.parametrize(
    "text", ["health", "health=", "health=ftp://x", "Health=http://x", "=http://x", "a.b.c=http://x"]
)
def test_bad_url_overrides_are_refused_with_the_syntax(text: str) -> None:
    with pytest.raises(GraygateError, match="GATE=URL"):
        parse_url_override(text)


def _spec(*gates: dict[str, Any]) -> dict[str, Any]:
    return {"analysis": {"interval": "30s", "gates": list(gates)}}


PROBE = {"name": "health", "critical": True, "httpProbe": {"url": "http://checkout-canary.shop:8080/healthz"}}
PROM = {
    "name": "success-rate",
    "prometheus": {
        "source": {"address": "https://prom", "bearerToken": {"secretRef": {"name": "t"}}, "headers": {"X-Org": "1"}},
        "requestSuccessRate": {"min": 99},
    },
}
PARITY = {"name": "parity", "metricParity": {"stableUrl": "http://s/metrics", "canaryUrl": "http://c/metrics"}}


def test_a_url_override_points_a_probe_elsewhere_and_leaves_the_rest() -> None:
    spec = _spec(PROBE, PROM)
    out = apply_overrides(spec, [UrlOverride("health", "http://127.0.0.1:1/healthz")])
    assert out["analysis"]["gates"][0]["httpProbe"]["url"] == "http://127.0.0.1:1/healthz"
    assert out["analysis"]["gates"][0]["critical"] is True
    assert out["analysis"]["gates"][1] == PROM
    assert spec == _spec(PROBE, PROM), "the input is not changed"


def test_a_url_override_of_a_prometheus_gate_is_its_address_and_keeps_credentials() -> None:
    out = apply_overrides(_spec(PROM), [UrlOverride("success-rate", "http://127.0.0.1:9090")])
    source = out["analysis"]["gates"][0]["prometheus"]["source"]
    assert source["address"] == "http://127.0.0.1:9090"
    assert "bearerToken" in source


def test_the_prometheus_flag_moves_every_prometheus_gate_and_drops_credentials_only() -> None:
    bare = {"name": "latency", "prometheus": {"requestDuration": {"max": "1s"}}}
    out = apply_overrides(_spec(PROBE, PROM, bare), prometheus="http://127.0.0.1:9090")
    probe, prom, latency = out["analysis"]["gates"]
    assert probe == PROBE
    assert prom["prometheus"]["source"] == {"address": "http://127.0.0.1:9090", "headers": {"X-Org": "1"}}
    assert latency == bare, "no source: the flag is the default address, as the operator's --prometheus-address"


def test_the_etcd_flag_replaces_every_etcd_gates_endpoints_and_drops_their_secrets() -> None:
    etcd = {"endpoints": ["etcd.shop:2379"], "dialTimeout": "1s", "tls": {"secretRef": {"name": "t"}},
            "auth": {"secretRef": {"name": "a"}}}  # fmt: skip
    config = {"name": "config", "etcdConfig": {"etcd": etcd, "prefix": "/checkout/"}}
    out = apply_overrides(_spec(PROBE, config), etcd=["127.0.0.1:2379", "127.0.0.1:22379"])
    probe, changed = out["analysis"]["gates"]
    assert probe == PROBE
    assert changed["etcdConfig"] == {
        "etcd": {"endpoints": ["127.0.0.1:2379", "127.0.0.1:22379"], "dialTimeout": "1s"},
        "prefix": "/checkout/",
    }


def test_a_named_field_override_reaches_kinds_with_several_urls() -> None:
    out = apply_overrides(_spec(PARITY), [UrlOverride("parity", "http://127.0.0.1:2/metrics", "canaryUrl")])
    assert out["analysis"]["gates"][0]["metricParity"]["canaryUrl"] == "http://127.0.0.1:2/metrics"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (UrlOverride("nope", "http://x"), r"no gate nope \(gates: health, parity\)"),
        (UrlOverride("parity", "http://x"), r"no single URL to override; name one: --url parity.FIELD=URL"),
        (UrlOverride("health", "http://x", "nothing"), "has no nothing"),
    ],
)
def test_overrides_that_cannot_apply_say_why(override: UrlOverride, message: str) -> None:
    with pytest.raises(GraygateError, match=message):
        apply_overrides(_spec(PROBE, PARITY), [override])


# ---- reading the manifest and measuring --------------------------------------------------------------------------

MANIFEST = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout, namespace: shop}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  canaryWorkload: {name: checkout-canary}
  stableWorkload: {name: checkout-stable}
  steps: [{setWeight: 10}]
  analysis:
    interval: 10s
    gates:
      - name: health
        httpProbe: {url: "http://checkout-canary.shop:8080/healthz", timeout: 1s}
      - name: success-rate
        prometheus:
          source: {address: "http://127.0.0.1:1", bearerToken: {secretRef: {name: prom-token}}}
          requestSuccessRate: {min: 99}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\n", "holds 0 CanaryReleases"),
        (MANIFEST + "---\n" + MANIFEST, "holds 2 CanaryReleases"),
        ("a: [", "not valid YAML"),
    ],
)
def test_check_takes_exactly_one_release(text: str, message: str) -> None:
    with pytest.raises(GraygateError, match=message):
        load_release(text, "release.yaml")


def test_an_invalid_release_names_the_field() -> None:
    broken = MANIFEST.replace("interval: 10s", "interval: soon")
    with pytest.raises(GraygateError, match=r"not a valid CanaryRelease: spec\.analysis\.interval"):
        run_check(CheckRequest(manifest_text=broken, source="release.yaml"))


@pytest.fixture
def target() -> Iterator[ProbeTarget]:
    server = ProbeTarget()
    yield server
    server.close()


def test_a_secret_cannot_be_read_offline_and_the_gate_says_what_to_pass(target: ProbeTarget) -> None:
    request = CheckRequest(manifest_text=MANIFEST, source="m", urls=(UrlOverride("health", target.url),))
    report = run_check(request)
    health, rate = report.gates
    assert (health.outcome, health.value) == (Outcome.PASS, "200")
    assert rate.outcome is Outcome.ERROR
    assert "Secret shop/prom-token" in rate.reason
    assert OfflineSecrets.WHY in rate.reason
    assert report.exit_code == 2


def test_a_failing_probe_fails_the_check_and_the_namespace_flag_wins(target: ProbeTarget) -> None:
    target.status = 503
    request = CheckRequest(
        manifest_text=MANIFEST, source="m", urls=(UrlOverride("health", target.url),),
        prometheus="http://127.0.0.1:1", namespace="staging",
    )  # fmt: skip
    report = run_check(request)
    assert report.release == "staging/checkout"
    health, rate = report.gates
    assert (health.outcome, health.value, report.exit_code) == (Outcome.FAIL, "503", 1)
    assert rate.outcome is Outcome.ERROR
    assert "Secret" not in rate.reason, "--prometheus drops the credentials"
    assert rate.threshold is not None
