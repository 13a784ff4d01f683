"""The exposition parser: text in, families (name, type, HELP, label names, how much they saw) out; bad text is an
ExpositionError naming its line."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from graygate.domain.compare.exposition import ExpositionError, MetricFamily, parse_exposition

COUNTER_004 = """\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{route="/a",code="200"} 3
http_requests_total{route="/b",code="500"} 1 1700000000000
"""
COUNTER_OM = """\
# HELP http_requests Requests served.
# TYPE http_requests counter
http_requests_total{route="/a",code="200"} 3.0 # {trace_id="abc"} 1.0 1700000000.1
http_requests_created{route="/a",code="200"} 1.7e9
# EOF
"""
HISTOGRAM = """\
# TYPE latency_seconds histogram
latency_seconds_bucket{route="/a",le="0.1"} 1
latency_seconds_bucket{route="/a",le="+Inf"} 2
latency_seconds_sum{route="/a"} 0.3
latency_seconds_count{route="/a"} 2
latency_seconds_bucket{route="/b",le="+Inf"} 0
latency_seconds_count{route="/b"} 0
"""
IDLE_HISTOGRAM = """\
# HELP idle_seconds Nothing yet.
# TYPE idle_seconds histogram
idle_seconds_bucket{le="+Inf"} 0
idle_seconds_sum 0
idle_seconds_count 0
"""
SUMMARY = """\
# TYPE rpc_seconds summary
rpc_seconds{method="get",quantile="0.5"} 0.1
rpc_seconds_sum{method="get"} 4
rpc_seconds_count{method="get"} 40
"""


def family(name: str, kind: str, **fields: object) -> MetricFamily:
    return MetricFamily(name=name, type=kind, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            COUNTER_004,
            family(
                "http_requests_total",
                "counter",
                help="Requests served.",
                label_names=frozenset({"route", "code"}),
                sample_count=2,
            ),
            id="counter-0.0.4-keeps-its-declared-name",
        ),
        pytest.param(
            COUNTER_OM,
            family(
                "http_requests_total",
                "counter",
                help="Requests served.",
                label_names=frozenset({"route", "code"}),
                sample_count=2,
            ),
            id="counter-openmetrics-named-as-promql-sees-it",
        ),
        pytest.param(
            "# TYPE jobs counter\n# EOF\n",
            family("jobs_total", "counter"),
            id="openmetrics-counter-without-samples-still-gets-total",
        ),
        pytest.param(
            '# TYPE build info\nbuild_info{version="1.2"} 1\n# EOF\n',
            family("build_info", "info", label_names=frozenset({"version"}), sample_count=1),
            id="openmetrics-info",
        ),
        pytest.param(
            HISTOGRAM,
            family(
                "latency_seconds", "histogram", label_names=frozenset({"route"}), sample_count=6, observation_count=2.0
            ),
            id="histogram-le-is-structural-count-is-summed",
        ),
        pytest.param(
            IDLE_HISTOGRAM,
            family("idle_seconds", "histogram", help="Nothing yet.", sample_count=3, observation_count=0.0),
            id="histogram-with-zero-count",
        ),
        pytest.param(
            SUMMARY,
            family("rpc_seconds", "summary", label_names=frozenset({"method"}), sample_count=3, observation_count=40.0),
            id="summary-quantile-is-structural",
        ),
        pytest.param(
            '# TYPE queue gaugehistogram\nqueue_bucket{le="+Inf"} 3\nqueue_gcount 3\nqueue_gsum 9\n# EOF\n',
            family("queue", "gaugehistogram", sample_count=3, observation_count=3.0),
            id="gauge-histogram-counts-gcount",
        ),
        pytest.param(
            '# TYPE state stateset\nstate{state="a",pod="x"} 1\nstate{state="b",pod="x"} 0\n# EOF\n',
            family("state", "stateset", label_names=frozenset({"pod"}), sample_count=2),
            id="stateset-own-name-label-is-structural",
        ),
        pytest.param(
            "# HELP declared_total Declared, never incremented.\n# TYPE declared_total counter\n",
            family("declared_total", "counter", help="Declared, never incremented."),
            id="declared-without-samples",
        ),
        pytest.param(
            'loose_metric{a="1"} 5\n',
            family("loose_metric", "untyped", label_names=frozenset({"a"}), sample_count=1),
            id="sample-without-type-is-untyped",
        ),
        pytest.param(
            "# TYPE old unknown\nold 1\n# EOF\n",
            family("old", "untyped", sample_count=1),
            id="openmetrics-unknown-is-untyped",
        ),
        pytest.param(
            "# HELP h a \\\\ back\\nslash\n# TYPE h gauge\nh 1\n",
            family("h", "gauge", help="a \\ back\nslash", sample_count=1),
            id="help-escapes",
        ),
        pytest.param(
            '# TYPE g gauge\ng{path="/a,}\\"b\\\\",  env = "x" ,} -Inf\ng NaN\ng +1.5e-3\n',
            family("g", "gauge", label_names=frozenset({"path", "env"}), sample_count=3),
            id="label-values-with-escapes-commas-and-braces",
        ),
        pytest.param(
            "# a comment\n\n# TYPE g gauge\r\ng 1\r\n",
            family("g", "gauge", sample_count=1),
            id="comments-blank-lines-and-crlf",
        ),
    ],
)
def test_one_family(text: str, expected: MetricFamily) -> None:
    assert dict(parse_exposition(text)) == {expected.name: expected}


@pytest.mark.parametrize(
    ("family_", "awaiting"),
    [
        pytest.param(family("a_total", "counter"), True, id="no-samples"),
        pytest.param(family("a_seconds", "histogram", sample_count=3, observation_count=0.0), True, id="zero-count"),
        pytest.param(family("a_seconds", "histogram", sample_count=3, observation_count=1.0), False, id="observed"),
        pytest.param(family("a", "gauge", sample_count=1), False, id="gauge-with-a-sample"),
        pytest.param(family("a_total", "counter", sample_count=1), False, id="counter-at-zero-is-present"),
    ],
)
def test_awaiting_traffic(family_: MetricFamily, awaiting: bool) -> None:
    assert family_.awaiting_traffic is awaiting


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("9lives 1\n", 1, "expected a metric name", id="name-starts-with-a-digit"),
        pytest.param('{"utf8.name"} 1\n', 1, "expected a metric name", id="quoted-utf8-name-is-out-of-scope"),
        pytest.param("# TYPE g gauge\ng\n", 2, "has no value", id="no-value"),
        pytest.param("g-1\n", 1, "has no value", id="no-space-before-value"),
        pytest.param("g one\n", 1, "is not a number", id="value-not-a-number"),
        pytest.param("g 1_000\n", 1, "is not a number", id="python-only-number-syntax"),
        pytest.param("g 1 2 3\n", 1, "more than a value and a timestamp", id="too-many-tokens"),
        pytest.param('g{a="1} 1\n', 1, "unterminated label value", id="unterminated-label"),
        pytest.param('g{a="\\t"} 1\n', 1, "invalid escape", id="invalid-escape"),
        pytest.param('g{a="1",a="2"} 1\n', 1, "label a given twice", id="duplicate-label"),
        pytest.param('g{a="1" b="2"} 1\n', 1, "expected , or }", id="missing-comma"),
        pytest.param("g{a=1} 1\n", 1, 'expected ="value"', id="unquoted-label-value"),
        pytest.param('g{1a="x"} 1\n', 1, "expected a label name", id="bad-label-name"),
        pytest.param("# TYPE g gauge\n# TYPE g counter\n", 2, "second TYPE", id="duplicate-type"),
        pytest.param("# HELP g a\n# HELP g b\n", 2, "second HELP", id="duplicate-help"),
        pytest.param("g 1\n# TYPE g gauge\n", 2, "after its samples", id="type-after-samples"),
        pytest.param("# TYPE g thermometer\n", 1, "unknown metric type", id="unknown-type"),
        pytest.param("# TYPE\n", 1, "without a valid metric name", id="type-without-name"),
        pytest.param("# TYPE h histogram\nh 1\n", 2, "does not fit its histogram family", id="bare-histogram-sample"),
    ],
)
def test_bad_text_names_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ExpositionError, match=message) as raised:
        parse_exposition(text)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"line {line}: ")


def test_families_keep_the_order_they_appear_in() -> None:
    text = "# TYPE b gauge\nb 1\n# TYPE a gauge\na 1\nc 1\n"
    assert list(parse_exposition(text)) == ["b", "a", "c"]


def test_the_format_can_be_forced() -> None:
    assert list(parse_exposition("# TYPE jobs counter\n", openmetrics=True)) == ["jobs_total"]
    assert list(parse_exposition("# TYPE jobs counter\n# EOF\n", openmetrics=False)) == ["jobs"]


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("http_requests", "Requests.", ["route", "code"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "Latency.", ["route"], registry=registry)
    Counter("retries_total", "Never incremented.", ["target"], registry=registry)
    Gauge("queue_depth", "Depth.", registry=registry).set(3)
    Summary("rpc_seconds", "RPC.", registry=registry).observe(0.5)
    Info("build", "Build.", registry=registry).info({"version": "1.2.3"})
    Enum("phase", "Phase.", states=["up", "down"], registry=registry)
    requests.labels("/a", "200").inc()
    latency.labels("/a").observe(0.2)
    return registry


EXPECTED_FROM_THE_CLIENT = {
    "http_requests_total": ("counter", frozenset({"route", "code"})),
    "http_request_duration_seconds": ("histogram", frozenset({"route"})),
    "retries_total": ("counter", frozenset()),
    "queue_depth": ("gauge", frozenset()),
    "rpc_seconds": ("summary", frozenset()),
    "build_info": ("info", frozenset({"version"})),
    "phase": ("stateset", frozenset()),
}


def test_what_the_official_client_writes_in_openmetrics() -> None:
    parsed = parse_exposition(generate_openmetrics(_registry()).decode())
    assert {name: (f.type, f.label_names) for name, f in parsed.items()} == EXPECTED_FROM_THE_CLIENT
    assert parsed["retries_total"].awaiting_traffic
    assert parsed["http_request_duration_seconds"].observation_count == 1.0


def test_what_the_official_client_writes_in_the_classic_format() -> None:
    parsed = parse_exposition(generate_latest(_registry()).decode())
    # 0.0.4 has no info or stateset types (they are gauges there) and writes each `_created` as its own gauge
    classic = {name: (f.type, f.label_names) for name, f in parsed.items() if not name.endswith("_created")}
    expected = dict(EXPECTED_FROM_THE_CLIENT)
    expected["build_info"] = ("gauge", frozenset({"version"}))
    expected["phase"] = ("gauge", frozenset({"phase"}))
    assert classic == expected
