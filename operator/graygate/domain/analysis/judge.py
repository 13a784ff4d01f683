"""Judges: one pure function per gate kind, turning a measurement into one sample verdict.

Why: thresholds live here, next to nothing else: not next to the HTTP call or the query (Flagger's habit), so a
judge is tested with a table of measurements and no server. `judge` dispatches on the gate's kind and refuses a
measurement of the wrong kind loudly instead of falling back to something silently.

Adding a gate kind adds one judge and one branch in `judge`.
"""

from __future__ import annotations

import json
from datetime import timedelta

from graygate.api.gates import ApiCompat, EtcdConfig, Gate, HotReload, HttpProbe, MetricParity, Prometheus
from graygate.api.routing_check import RoutingCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.config_checks import judge_etcd_config, judge_hot_reload
from graygate.domain.analysis.measurements import (
    ApiCompatMeasurement,
    EtcdConfigMeasurement,
    HotReloadMeasurement,
    HttpProbeMeasurement,
    Measurement,
    MetricParityMeasurement,
    PrometheusMeasurement,
    RoutingCheckMeasurement,
)
from graygate.domain.analysis.prometheus import judge_prometheus
from graygate.domain.analysis.release_checks import judge_api_compat, judge_metric_parity
from graygate.domain.analysis.routing_check import judge_routing_check
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.jsonpath import Found, lookup, render
from graygate.domain.errors import MeasurementMismatch

__all__ = [
    "judge",
    "judge_api_compat",
    "judge_etcd_config",
    "judge_hot_reload",
    "judge_http_probe",
    "judge_metric_parity",
    "judge_prometheus",
    "judge_routing_check",
    "milliseconds",
]


def milliseconds(value: timedelta) -> str:
    """A latency as people read it: `412ms`."""
    return f"{round(value / timedelta(milliseconds=1))}ms"


def judge(gate: Gate, measurement: Measurement, *, weight: int | None = None) -> Verdict:
    """The sample verdict of `measurement` under `gate`'s check, taken while the canary had `weight` percent of
    the traffic (None: unknown). `metricParity` looks at the weight (at 0 % no traffic is expected), and
    `routingCheck` (the uncoloured requests must follow it)."""
    check = gate.check
    if measurement.gate == gate.name:
        if isinstance(check, HttpProbe) and isinstance(measurement, HttpProbeMeasurement):
            return judge_http_probe(check, measurement)
        if isinstance(check, Prometheus) and isinstance(measurement, PrometheusMeasurement):
            return judge_prometheus(check, measurement)
        if isinstance(check, MetricParity) and isinstance(measurement, MetricParityMeasurement):
            return judge_metric_parity(check, measurement, weight)
        if isinstance(check, ApiCompat) and isinstance(measurement, ApiCompatMeasurement):
            return judge_api_compat(check, measurement)
        if isinstance(check, HotReload) and isinstance(measurement, HotReloadMeasurement):
            return judge_hot_reload(check, measurement)
        if isinstance(check, EtcdConfig) and isinstance(measurement, EtcdConfigMeasurement):
            return judge_etcd_config(check, measurement)
        if isinstance(check, RoutingCheck) and isinstance(measurement, RoutingCheckMeasurement):
            return judge_routing_check(check, measurement, weight)
    raise MeasurementMismatch(
        f"gate {gate.name} ({check.kind}) cannot judge a {measurement.kind} measurement of gate {measurement.gate}"
    )


def judge_http_probe(check: HttpProbe, seen: HttpProbeMeasurement) -> Verdict:
    """Pass when the status is expected, the latency is within budget and the JSON check (if any) holds."""
    expected = f"in [{', '.join(str(code) for code in check.expect_status)}]"
    inputs = {"url": seen.url, "method": seen.method}

    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs)

    if seen.error is not None:
        return verdict(Outcome.FAIL, f"no answer from {seen.method} {seen.url}: {seen.error}", None, expected)
    if seen.status_code is None:
        return verdict(Outcome.ERROR, "the probe reported neither a status code nor an error", None, expected)
    status = str(seen.status_code)
    if seen.status_code not in check.expect_status:
        return verdict(Outcome.FAIL, f"status {status}, expected one {expected}", status, expected)
    observed, wanted = [status], [f"status {expected}"]
    if check.latency_budget is not None:
        budget = f"<= {milliseconds(check.latency_budget)}"
        if seen.latency is None:
            return verdict(Outcome.ERROR, "the probe reported no latency to compare with the budget", None, budget)
        took = milliseconds(seen.latency)
        if seen.latency > check.latency_budget:
            return verdict(Outcome.FAIL, f"took {took}, over the budget {budget}", took, budget)
        observed.append(took)
        wanted.append(f"latency {budget}")
    if check.json_path is not None:
        path, equals = check.json_path.path, check.json_path.equals
        wants = f"{path} == {equals}" if equals is not None else f"{path} exists"
        found = _body_value(seen, path)
        if isinstance(found, str):
            return verdict(Outcome.FAIL, found, None, wants)
        got = render(found.value)
        if found.value is None and equals is None:
            return verdict(Outcome.FAIL, f"{path} is null", got, wants)
        if equals is not None and got != equals:
            return verdict(Outcome.FAIL, f"{path} is {got!r}, expected {equals!r}", got, wants)
        observed.append(f"{path}={got}")
        wanted.append(wants)
    return verdict(Outcome.PASS, f"{', '.join(observed)} as expected", ", ".join(observed), ", ".join(wanted))


def _body_value(seen: HttpProbeMeasurement, path: str) -> Found | str:
    """The value at `path` in the answer's JSON body, or why there is none."""
    if seen.body_is_json:
        document = seen.body_json
    elif not seen.body:
        return f"no body to check {path} in"
    else:
        try:
            document = json.loads(seen.body)
        except ValueError:
            return f"the body is not JSON, cannot check {path}"
    found = lookup(document, path)
    if isinstance(found, Found):
        return found
    return f"{path}: {found.why} at {found.where}"
