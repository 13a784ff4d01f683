"""Instrumentation parity: each case is two small sets of families and the findings they must produce, by severity,
code, family and label."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from graygate.domain.compare.exposition import MetricFamily, MetricType, parse_exposition
from graygate.domain.compare.findings import count_by_severity, describe_counts, worst_severity
from graygate.domain.compare.parity import ParityCode, ParityPolicy, ParityReport, compare_parity, lint_name, summarize

C = ParityCode


def fam(
    name: str,
    kind: MetricType = "counter",
    labels: tuple[str, ...] = (),
    samples: int = 1,
    count: float | None = None,
    help: str | None = None,
) -> MetricFamily:
    return MetricFamily(
        name=name, type=kind, help=help, label_names=frozenset(labels), sample_count=samples, observation_count=count
    )


def fams(*families: MetricFamily) -> Mapping[str, MetricFamily]:
    return {family.name: family for family in families}


REQUESTS = fam("http_requests_total", labels=("route", "code"))
LATENCY = fam("http_request_duration_seconds", "histogram", labels=("route",), samples=12, count=40)
NO_POLICY = ParityPolicy(lint_scope="off")

Found = tuple[str, ParityCode, str, str | None]


def found(report: ParityReport) -> set[Found]:
    return {(f.severity, f.code, f.family, f.label) for f in report.findings}


@pytest.mark.parametrize(
    ("stable", "canary", "policy", "expected"),
    [
        pytest.param(fams(REQUESTS, LATENCY), fams(REQUESTS, LATENCY), NO_POLICY, set(), id="identical"),
        pytest.param(
            fams(REQUESTS, LATENCY),
            fams(REQUESTS),
            NO_POLICY,
            {("error", C.FAMILY_MISSING, "http_request_duration_seconds", None)},
            id="canary-drops-a-family",
        ),
        pytest.param(
            fams(REQUESTS, fam("declared_only_total", samples=0)),
            fams(REQUESTS),
            NO_POLICY,
            {("error", C.FAMILY_MISSING, "declared_only_total", None)},
            id="a-family-stable-declares-without-samples-is-still-owed",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(fam("http_requests_total", labels=("route",))),
            NO_POLICY,
            {("error", C.LABEL_DROPPED, "http_requests_total", "code")},
            id="canary-drops-a-label",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(fam("http_requests_total", "gauge", labels=("route", "code"))),
            NO_POLICY,
            {("error", C.TYPE_CHANGED, "http_requests_total", None)},
            id="canary-changes-a-type",
        ),
        pytest.param(
            fams(fam("jobs", "untyped")),
            fams(fam("jobs", "gauge")),
            NO_POLICY,
            {("warning", C.TYPE_CHANGED, "jobs", None)},
            id="untyped-to-typed-is-only-a-warning",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(fam("http_requests_total", labels=("route", "code", "pod")), fam("cache_hits_total")),
            NO_POLICY,
            {
                ("info", C.LABEL_ADDED, "http_requests_total", "pod"),
                ("info", C.FAMILY_ADDED, "cache_hits_total", None),
            },
            id="additions-are-info",
        ),
        pytest.param(
            fams(fam("up_total", help="Old words.")),
            fams(fam("up_total", help="New words.")),
            NO_POLICY,
            {("info", C.HELP_CHANGED, "up_total", None)},
            id="help-changed",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(fam("http_requests_total", samples=0)),
            NO_POLICY,
            {
                ("info", C.NO_TRAFFIC_YET, "http_requests_total", None),
                ("info", C.LABELS_UNVERIFIED, "http_requests_total", None),
            },
            id="declared-without-samples-is-no-traffic-not-missing-and-labels-wait",
        ),
        pytest.param(
            fams(LATENCY),
            fams(fam("http_request_duration_seconds", "histogram", labels=("route",), samples=12, count=0)),
            NO_POLICY,
            {("info", C.NO_TRAFFIC_YET, "http_request_duration_seconds", None)},
            id="histogram-with-zero-count-is-no-traffic",
        ),
        pytest.param(
            fams(LATENCY),
            fams(fam("http_request_duration_seconds", "histogram", labels=(), samples=12, count=0)),
            NO_POLICY,
            {
                ("info", C.NO_TRAFFIC_YET, "http_request_duration_seconds", None),
                ("error", C.LABEL_DROPPED, "http_request_duration_seconds", "route"),
            },
            id="zero-count-histogram-still-shows-its-labels",
        ),
        pytest.param(
            fams(fam("http_requests_total", samples=0)),
            fams(REQUESTS),
            NO_POLICY,
            set(),
            id="stable-without-samples-has-no-labels-to-lose",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(REQUESTS),
            ParityPolicy(required=("orders_placed_total",), lint_scope="off"),
            {("error", C.REQUIRED_FAMILY_MISSING, "orders_placed_total", None)},
            id="required-family-missing",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(REQUESTS, fam("orders_placed_total", samples=0)),
            ParityPolicy(required=("orders_placed_total",), lint_scope="off"),
            {
                ("info", C.NO_TRAFFIC_YET, "orders_placed_total", None),
                ("info", C.FAMILY_ADDED, "orders_placed_total", None),
            },
            id="required-family-present-without-traffic-is-not-missing",
        ),
        pytest.param(
            fams(REQUESTS, fam("http_requests_created", "gauge", labels=("route", "code")), LATENCY),
            fams(fam("http_requests_total", samples=0), LATENCY),
            NO_POLICY,
            {
                ("info", C.NO_TRAFFIC_YET, "http_requests_total", None),
                ("info", C.LABELS_UNVERIFIED, "http_requests_total", None),
                ("info", C.NO_TRAFFIC_YET, "http_requests_created", None),
            },
            id="created-gauge-comes-with-the-first-series",
        ),
        pytest.param(
            fams(REQUESTS, fam("http_request_duration_seconds_created", "gauge"), LATENCY),
            fams(REQUESTS, LATENCY),
            NO_POLICY,
            {("warning", C.FAMILY_MISSING, "http_request_duration_seconds_created", None)},
            id="created-gauge-switched-off-is-a-warning",
        ),
        pytest.param(
            fams(REQUESTS, fam("jobs_created", "gauge")),
            fams(REQUESTS),
            NO_POLICY,
            {("error", C.FAMILY_MISSING, "jobs_created", None)},
            id="a-gauge-named-created-without-a-parent-is-a-family",
        ),
        pytest.param(
            fams(REQUESTS, fam("go_goroutines", "gauge")),
            fams(REQUESTS, fam("python_gc_objects_collected_total")),
            ParityPolicy(ignore=("go_*", "python_*")),
            set(),
            id="ignored-families-are-out-of-every-rule",
        ),
        pytest.param(
            fams(REQUESTS),
            fams(REQUESTS, fam("checkout_latency_ms", "histogram", count=1), fam("Orders", "counter")),
            ParityPolicy(),
            {
                ("info", C.FAMILY_ADDED, "checkout_latency_ms", None),
                ("warning", C.NON_BASE_UNIT, "checkout_latency_ms", None),
                ("info", C.FAMILY_ADDED, "Orders", None),
                ("warning", C.NOT_SNAKE_CASE, "Orders", None),
                ("warning", C.COUNTER_WITHOUT_TOTAL, "Orders", None),
            },
            id="lint-added-families-at-warning-by-default",
        ),
        pytest.param(
            fams(fam("legacy_ms_total")),
            fams(fam("legacy_ms_total")),
            ParityPolicy(),
            set(),
            id="inherited-names-are-not-linted-by-default",
        ),
        pytest.param(
            fams(fam("legacy_ms_total")),
            fams(fam("legacy_ms_total")),
            ParityPolicy(lint_scope="all", lint_severity="error"),
            {("error", C.NON_BASE_UNIT, "legacy_ms_total", None)},
            id="lint-all-at-error",
        ),
        pytest.param(
            fams(),
            fams(fam("cache_size_bytes", "gauge", labels=("Pod", "zone"))),
            ParityPolicy(lint_severity="info"),
            {
                ("info", C.FAMILY_ADDED, "cache_size_bytes", None),
                ("info", C.NOT_SNAKE_CASE, "cache_size_bytes", "Pod"),
            },
            id="label-names-are-linted-too",
        ),
    ],
)
def test_parity(
    stable: Mapping[str, MetricFamily], canary: Mapping[str, MetricFamily], policy: ParityPolicy, expected: set[Found]
) -> None:
    assert found(compare_parity(stable, canary, policy)) == expected


@pytest.mark.parametrize(
    ("name", "kind", "codes"),
    [
        pytest.param("http_requests_total", "counter", [], id="good-counter"),
        pytest.param("http_requests", "counter", [C.COUNTER_WITHOUT_TOTAL], id="counter-without-total"),
        pytest.param("request_duration_seconds", "histogram", [], id="seconds"),
        pytest.param("request_duration_milliseconds", "histogram", [C.NON_BASE_UNIT], id="milliseconds"),
        pytest.param("request_duration_ms", "histogram", [C.NON_BASE_UNIT], id="ms"),
        pytest.param("gc_pause_ns_total", "counter", [C.NON_BASE_UNIT], id="ns-before-total"),
        pytest.param("upload_size_kb", "gauge", [C.NON_BASE_UNIT], id="kb"),
        pytest.param("heap_megabytes", "gauge", [C.NON_BASE_UNIT], id="megabytes"),
        pytest.param("cpu_usage_percent", "gauge", [C.NON_BASE_UNIT], id="percent"),
        pytest.param("ms_office_docs_total", "counter", [], id="abbreviation-only-counts-as-the-unit"),
        pytest.param("kube_ns_pods", "gauge", [], id="ns-in-the-middle-is-a-namespace"),
        pytest.param("HttpRequests_total", "counter", [C.NOT_SNAKE_CASE], id="camel-case"),
        pytest.param("job:requests:rate5m", "gauge", [C.NOT_SNAKE_CASE], id="colons-are-for-recording-rules"),
        pytest.param("__private", "gauge", [C.NOT_SNAKE_CASE], id="leading-double-underscore"),
        pytest.param("double__underscore", "gauge", [C.NOT_SNAKE_CASE], id="double-underscore"),
        pytest.param(
            "Latency_ms", "counter", [C.NOT_SNAKE_CASE, C.COUNTER_WITHOUT_TOTAL, C.NON_BASE_UNIT], id="all-three"
        ),
    ],
)
def test_lint_name(name: str, kind: str, codes: list[ParityCode]) -> None:
    assert [code for code, _ in lint_name(name, kind)] == codes


def test_lint_messages_name_the_better_unit() -> None:
    assert (
        dict(lint_name("upload_size_kb", "gauge"))[C.NON_BASE_UNIT]
        == "upload_size_kb uses _kb; prefer base units: _bytes"
    )
    assert "colons are reserved" in dict(lint_name("a:b", "gauge"))[C.NOT_SNAKE_CASE]


def test_findings_are_worst_first_and_the_report_folds_them() -> None:
    report = compare_parity(
        fams(REQUESTS, LATENCY, fam("zeta_total")),
        fams(fam("http_requests_total", labels=("route",)), fam("alpha_total"), fam("zeta_total", samples=0)),
    )
    assert [f.severity for f in report.findings] == sorted(
        (f.severity for f in report.findings), key=["error", "warning", "info"].index
    )
    assert report.failed
    assert report.worst == "error"
    assert report.awaiting_traffic == ("zeta_total",)
    assert report.with_code(C.FAMILY_MISSING)[0].family == "http_request_duration_seconds"
    assert (report.stable_families, report.canary_families) == (3, 3)


def test_a_clean_report_passes() -> None:
    report = compare_parity(fams(REQUESTS), fams(REQUESTS))
    assert not report.failed
    assert report.worst is None
    assert summarize(report) == "metric parity: 0 errors, 0 warnings, 0 info (1 canary families vs 1 stable)"


def test_summary_names_what_broke() -> None:
    report = compare_parity(fams(REQUESTS, LATENCY), fams(fam("http_requests_total", labels=("route",))))
    assert summarize(report, limit=1) == (
        "metric parity: 2 errors, 0 warnings, 0 info (1 canary families vs 2 stable): "
        "FamilyMissing: stable exposes histogram http_request_duration_seconds, the canary does not; and 1 more"
    )


def test_from_exposition_text_to_findings() -> None:
    stable = parse_exposition(
        "# TYPE http_requests_total counter\n"
        'http_requests_total{route="/a",code="200"} 7\n'
        "# TYPE http_request_duration_seconds histogram\n"
        'http_request_duration_seconds_bucket{route="/a",le="+Inf"} 7\n'
        'http_request_duration_seconds_count{route="/a"} 7\n'
    )
    canary = parse_exposition(
        "# HELP http_requests Requests.\n# TYPE http_requests counter\n"  # OpenMetrics, no traffic yet
        "# TYPE http_request_duration_seconds histogram\n"
        'http_request_duration_seconds_bucket{le="+Inf"} 0\nhttp_request_duration_seconds_count 0\n'
        "# EOF\n"
    )
    report = compare_parity(stable, canary)
    assert found(report) == {
        ("info", C.NO_TRAFFIC_YET, "http_requests_total", None),
        ("info", C.LABELS_UNVERIFIED, "http_requests_total", None),
        ("info", C.NO_TRAFFIC_YET, "http_request_duration_seconds", None),
        ("error", C.LABEL_DROPPED, "http_request_duration_seconds", "route"),
    }


@pytest.mark.parametrize(
    ("severities", "worst", "described"),
    [
        pytest.param([], None, "0 errors, 0 warnings, 0 info", id="none"),
        pytest.param(["info", "info"], "info", "0 errors, 0 warnings, 2 info", id="info-only"),
        pytest.param(["warning", "error", "info"], "error", "1 error, 1 warning, 1 info", id="one-of-each"),
    ],
)
def test_severity_fold(severities: list[str], worst: str | None, described: str) -> None:
    assert worst_severity(severities) == worst  # type: ignore[arg-type]
    assert describe_counts(count_by_severity(severities)) == described  # type: ignore[arg-type]
