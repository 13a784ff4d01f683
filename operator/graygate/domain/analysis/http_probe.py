"""The `httpProbe` gate's measurement and judge: one HTTP answer in, one sample verdict out.

Why the order of questions: no answer at all fails (the canary must answer), an answer without a status code is
the probe's own fault (`Error`), then the status, the latency budget and the JSON body are checked in turn, and
the passing reason names everything that was checked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Self

from graygate.api.gates import GateCheck, HttpProbe, JsonPathCheck
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import Measurement, checked
from graygate.domain.analysis.verdicts import Verdict, VerdictFor
from graygate.domain.compare.jsonpath import Found, lookup, render

__all__ = ["HttpProbeMeasurement", "JsonPathHeld", "json_path_check", "judge_http_probe", "milliseconds"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpProbeMeasurement(Measurement):
    """One HTTP request made by an `httpProbe` gate.

    `error` is set when no answer came (refused, reset, timed out, TLS); then `status_code` is None. `body` is
    the beginning of the answer's text (the gate bounds it). When the gate already parsed the body as JSON it sets
    `body_is_json` and `body_json` (which may be None for a JSON `null`); otherwise the judge parses `body`.
    """

    kind: ClassVar[str] = "httpProbe"

    url: str
    method: str = "GET"
    status_code: int | None = None
    latency: timedelta | None = None
    body: str | None = None
    body_is_json: bool = False
    body_json: object = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_http_probe(checked(check, HttpProbe, self), self)

    def numbers(self) -> Mapping[str, float]:
        numbers: dict[str, float] = {}
        if self.status_code is not None:
            numbers["statusCode"] = float(self.status_code)
        if self.latency is not None:
            numbers["latencySeconds"] = self.latency.total_seconds()
        return numbers

    def result(self) -> Mapping[str, object] | None:
        """`statusCode` (int), `latencySeconds`, `body` (the parsed JSON answer; null when it is not JSON) and
        `bodyText` (the beginning of the answer's text); None without a status code (the kind's `Error` stands)."""
        if self.status_code is None:
            return None
        body: object = self.body_json
        if not self.body_is_json:
            try:
                body = json.loads(self.body) if self.body else None
            except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
                body = None
        latency = self.latency.total_seconds() if self.latency is not None else math.nan
        return {
            "statusCode": self.status_code or 0,
            "latencySeconds": latency,
            "body": body,
            "bodyText": self.body or "",
        }

    @classmethod
    def unmeasured(cls, gate: str, check: GateCheck, now: datetime, why: str) -> Self:
        probe = check if isinstance(check, HttpProbe) else None
        url, method = (probe.url, probe.method) if probe is not None else ("", "GET")
        return cls(gate=gate, observed_at=now, url=url, method=method, error=why)


def milliseconds(value: timedelta) -> str:
    """A latency as people read it: `412ms`."""
    return f"{round(value / timedelta(milliseconds=1))}ms"


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
        held = json_path_check(
            check.json_path, body=seen.body, body_is_json=seen.body_is_json, body_json=seen.body_json
        )
        if held.failure is not None:
            return verdict(Outcome.FAIL, held.failure, held.got, held.wants)
        observed.append(f"{check.json_path.path}={held.got}")
        wanted.append(held.wants)
    return verdict(Outcome.PASS, f"{', '.join(observed)} as expected", ", ".join(observed), ", ".join(wanted))


@dataclass(frozen=True, slots=True)
class JsonPathHeld:
    """What one `JsonPathCheck` found in an answer: what it wants (`$.ready == true`, `$.ready exists`), the value
    it found as text (None when there is none) and, when it does not hold, why (else None)."""

    wants: str
    got: str | None
    failure: str | None


def json_path_check(check: JsonPathCheck, *, body: str | None, body_is_json: bool, body_json: object) -> JsonPathHeld:
    """Whether `check` holds in an answer: its JSON (`body_json` when the gate parsed it, `body_is_json`), else its
    text `body`, parsed here. Shared by every kind that checks a JSON answer (`httpProbe`, `webhook`)."""
    path, equals = check.path, check.equals
    wants = f"{path} == {equals}" if equals is not None else f"{path} exists"
    found = _body_value(path, body=body, body_is_json=body_is_json, body_json=body_json)
    if isinstance(found, str):
        return JsonPathHeld(wants, None, found)
    got = render(found.value)
    if found.value is None and equals is None:
        return JsonPathHeld(wants, got, f"{path} is null")
    if equals is not None and got != equals:
        return JsonPathHeld(wants, got, f"{path} is {got!r}, expected {equals!r}")
    return JsonPathHeld(wants, got, None)


def _body_value(path: str, *, body: str | None, body_is_json: bool, body_json: object) -> Found | str:
    """The value at `path` in the answer's JSON body, or why there is none."""
    if body_is_json:
        document = body_json
    elif not body:
        return f"no body to check {path} in"
    else:
        try:
            document = json.loads(body)
        except ValueError:
            return f"the body is not JSON, cannot check {path}"
        except RecursionError:
            return f"the body is JSON nested deeper than graygate reads, cannot check {path}"
    found = lookup(document, path)
    if isinstance(found, Found):
        return found
    return f"{path}: {found.why} at {found.where}"
