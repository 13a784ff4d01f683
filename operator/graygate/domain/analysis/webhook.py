"""The `webhook` gate's measurement and judge: the receiver's last answer in, one sample verdict out.

Why these rules: a webhook is the user's own check, so its answer is taken as it is: a 2xx passes, anything else
fails, with the status and the first bytes of the answer as the value (a receiver says why it refused in its body,
and a reader of the status should see it without opening the receiver's logs). No answer at all (refused, timed
out, after every retry) fails too: the check the user asked for did not say yes. Only a request the operator could
not even prepare (a header's Secret that cannot be read) is an `Error`: the gate could not measure. `expect` checks
run on a 2xx answer's JSON with the `httpProbe`'s own JSON-path logic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Self

from graygate.api.gates import GateCheck, Webhook
from graygate.api.status import Outcome
from graygate.domain.analysis.http_probe import JsonPathHeld, json_path_check, milliseconds
from graygate.domain.analysis.measurements import Measurement, checked
from graygate.domain.analysis.verdicts import Verdict, VerdictFor

__all__ = ["SNIPPET_BYTES", "WebhookMeasurement", "judge_webhook", "snippet"]

SNIPPET_BYTES = 256
"""How much of an answer's body a measurement keeps as text (the value of a failing verdict)."""


def snippet(body: bytes, charset: str | None = None) -> str:
    """The first `SNIPPET_BYTES` of a body as text (undecodable bytes replaced, whitespace runs folded)."""
    try:
        text = body[:SNIPPET_BYTES].decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: read as UTF-8
        text = body[:SNIPPET_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookMeasurement(Measurement):
    """The receiver's last answer to a `webhook` gate's POST.

    `attempts` is how many requests were sent (0: none). `error` is set when the last attempt got no answer
    (refused, reset, timed out); `request_error` when no request could be prepared (a header's Secret). `body` is
    the first `SNIPPET_BYTES` of the answer as text; `body_json` the whole answer parsed as JSON when it is
    (`body_is_json`), for `expect`.
    """

    kind: ClassVar[str] = "webhook"

    url: str
    status_code: int | None = None
    body: str = ""
    body_is_json: bool = False
    body_json: object = None
    latency: timedelta | None = None
    attempts: int = 0
    request_error: str | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return judge_webhook(checked(check, Webhook, self), self)

    def numbers(self) -> Mapping[str, float]:
        numbers: dict[str, float] = {"attempts": float(self.attempts)}
        if self.status_code is not None:
            numbers["statusCode"] = float(self.status_code)
        if self.latency is not None:
            numbers["latencySeconds"] = self.latency.total_seconds()
        return numbers

    def result(self) -> Mapping[str, object] | None:
        """`statusCode` (int), `latencySeconds`, `attempts` (int), `body` (the parsed JSON answer; null when it is
        not JSON) and `bodyText` (the beginning of the answer's text); None without an answer (the kind's verdict
        stands)."""
        if self.status_code is None:
            return None
        return {
            "statusCode": self.status_code,
            "latencySeconds": self.latency.total_seconds() if self.latency is not None else math.nan,
            "attempts": self.attempts,
            "body": self.body_json if self.body_is_json else None,
            "bodyText": self.body,
        }

    @classmethod
    def unmeasured(cls, gate: str, check: GateCheck, now: datetime, why: str) -> Self:
        url = check.url if isinstance(check, Webhook) else ""
        return cls(gate=gate, observed_at=now, url=url, error=why)


def _attempts(seen: WebhookMeasurement) -> str:
    return "" if seen.attempts <= 1 else f" after {seen.attempts} attempts"


def judge_webhook(check: Webhook, seen: WebhookMeasurement) -> Verdict:
    """Pass on a 2xx answer whose JSON holds every `expect` check; fail on anything else."""
    wanted = ["status 2xx", *(held.wants for held in _expectations(check, seen))]
    expected = ", ".join(wanted)
    inputs = {"url": seen.url, "method": "POST"}
    verdict = VerdictFor(seen.gate, seen.kind, seen.observed_at, inputs, expected)

    if seen.request_error is not None:
        return verdict(Outcome.ERROR, f"nothing was sent to {seen.url}: {seen.request_error}")
    if seen.error is not None:
        return verdict(Outcome.FAIL, f"no answer from POST {seen.url}{_attempts(seen)}: {seen.error}")
    if seen.status_code is None:
        return verdict(Outcome.ERROR, "the webhook reported neither a status code nor an error")
    value = f"{seen.status_code} {seen.body}".strip()
    if not 200 <= seen.status_code < 300:
        return verdict(Outcome.FAIL, f"the webhook answered {value}{_attempts(seen)}", value)
    observed = [f"status {seen.status_code}"]
    for check_of, held in zip(check.expect, _expectations(check, seen), strict=True):
        if held.failure is not None:
            return verdict(Outcome.FAIL, f"the webhook answered {seen.status_code}, but {held.failure}", held.got)
        observed.append(f"{check_of.path}={held.got}")
    took = f" in {milliseconds(seen.latency)}" if seen.latency is not None else ""
    return verdict(Outcome.PASS, f"{', '.join(observed)}{took} as expected", ", ".join(observed))


def _expectations(check: Webhook, seen: WebhookMeasurement) -> list[JsonPathHeld]:
    return [
        json_path_check(expected, body=seen.body, body_is_json=seen.body_is_json, body_json=seen.body_json)
        for expected in check.expect
    ]
