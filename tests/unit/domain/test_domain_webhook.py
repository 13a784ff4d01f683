"""The webhook gate's judge and the payload every webhook receives: tables of measurements and releases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graygate.api import CanaryReleaseStatus, Gate, Outcome
from graygate.api.gates import Webhook
from graygate.api.status import Phase
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.webhook import WebhookMeasurement, judge_webhook, snippet
from graygate.domain.analysis.webhook_payload import LAST_APPLIED, payload_of_scope, webhook_payload

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
URL = "http://hooks.qa:8080/smoke"
V = Outcome


def hook(**fields: Any) -> Webhook:
    return Webhook.model_validate({"url": URL, **fields})


def seen(**fields: Any) -> WebhookMeasurement:
    defaults: dict[str, Any] = {"gate": "smoke", "observed_at": T0, "url": URL, "attempts": 1}
    return WebhookMeasurement(**{**defaults, **fields})


EXPECT = {"expect": [{"path": "$.result", "equals": "passed"}, {"path": "$.ticket"}]}
GOOD = {"result": "passed", "ticket": "CHG-42"}


@pytest.mark.parametrize(
    ("fields", "measured", "outcome", "reason", "value"),
    [
        ({}, seen(status_code=200, latency=timedelta(milliseconds=41)), V.PASS, "status 200 in 41ms", "status 200"),
        ({}, seen(status_code=204), V.PASS, "status 204 as expected", "status 204"),
        ({}, seen(status_code=500, body="db down"), V.FAIL, "the webhook answered 500 db down", "500 db down"),
        ({}, seen(status_code=500, body="", attempts=3), V.FAIL, "answered 500 after 3 attempts", "500"),
        ({}, seen(status_code=403, body='{"error":"no"}'), V.FAIL, "answered 403", '403 {"error":"no"}'),
        ({}, seen(status_code=302, body=""), V.FAIL, "the webhook answered 302", "302"),
        ({}, seen(error="connection refused", attempts=2), V.FAIL, "no answer from POST", None),
        ({}, seen(error="timed out after 1s"), V.FAIL, f"no answer from POST {URL}: timed out", None),
        ({}, seen(request_error="header X: cannot read", attempts=0), V.ERROR, "nothing was sent", None),
        ({}, seen(), V.ERROR, "neither a status code nor an error", None),
        (EXPECT, seen(status_code=200, body_is_json=True, body_json=GOOD), V.PASS, "$.result=passed", None),
        (EXPECT, seen(status_code=200, body='{"result": "passed", "ticket": 7}'), V.PASS, "$.ticket=7", None),
        (
            EXPECT,
            seen(status_code=200, body_is_json=True, body_json={"result": "failed", "ticket": "x"}),
            V.FAIL,
            "answered 200, but $.result is 'failed', expected 'passed'",
            "failed",
        ),
        (EXPECT, seen(status_code=200, body="plain text"), V.FAIL, "the body is not JSON", None),
        (EXPECT, seen(status_code=200, body_is_json=True, body_json={"result": "passed"}), V.FAIL, "$.ticket", None),
        (EXPECT, seen(status_code=503, body="busy"), V.FAIL, "answered 503 busy", "503 busy"),
    ],
)
def test_the_judge(
    fields: dict[str, Any], measured: WebhookMeasurement, outcome: Outcome, reason: str, value: str | None
) -> None:
    verdict = judge_webhook(hook(**fields), measured)
    assert (verdict.outcome, verdict.kind, verdict.gate) == (outcome, "webhook", "smoke")
    assert reason in verdict.reason
    if value is not None or outcome is not V.PASS:
        assert verdict.value == value or (value is None and verdict.value in (None, ""))
    assert verdict.inputs == {"url": URL, "method": "POST"}
    assert verdict.threshold is not None
    assert verdict.threshold.startswith("status 2xx")


def test_the_threshold_names_every_expectation() -> None:
    verdict = judge_webhook(hook(**EXPECT), seen(status_code=200, body_is_json=True, body_json=GOOD))
    assert verdict.threshold == "status 2xx, $.result == passed, $.ticket exists"
    assert verdict.value == "status 200, $.result=passed, $.ticket=CHG-42"


def test_the_judge_dispatch_reaches_the_webhook_judge_and_a_refused_url_fails() -> None:
    gate = Gate.model_validate({"name": "smoke", "webhook": {"url": URL}})
    refused = WebhookMeasurement.unmeasured("smoke", gate.check, T0, "not in the allowlist")
    assert refused.url == URL
    verdict = judge(gate, refused, weight=10)
    assert verdict.outcome is V.FAIL
    assert "not in the allowlist" in verdict.reason


def test_numbers() -> None:
    measured = seen(status_code=502, latency=timedelta(milliseconds=250), attempts=3)
    assert measured.numbers() == {"attempts": 3.0, "statusCode": 502.0, "latencySeconds": 0.25}
    assert seen(error="refused", attempts=1).numbers() == {"attempts": 1.0}


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"short", "short"),
        (b"a" * 300, "a" * 256),
        (b"line one\n  line two\r\n", "line one line two"),
        (b"\xff\xfe bad", "\ufffd\ufffd bad"),
    ],
)
def test_the_value_keeps_the_first_bytes(body: bytes, text: str) -> None:
    assert snippet(body) == text


RUNNING = CanaryReleaseStatus(
    phase=Phase.PROGRESSING, current_step_index=1, canary_weight=20, revision="7d9f", stable_revision="5c4b"
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            RUNNING,
            {"phase": "Progressing", "step": 2, "canaryWeight": 20, "stableWeight": 80, "canaryRevision": "7d9f"},
        ),
        (
            None,
            {"phase": "Pending", "step": 1, "canaryWeight": 0, "stableWeight": 100, "canaryRevision": None},
        ),
        (
            CanaryReleaseStatus(phase=Phase.SUCCEEDED, current_step_index=3, canary_weight=0),
            {"phase": "Succeeded", "step": 4, "canaryWeight": 0, "stableWeight": 100, "stableRevision": None},
        ),
    ],
)
def test_the_payload_says_where_the_release_is(status: CanaryReleaseStatus | None, expected: dict[str, Any]) -> None:
    payload = webhook_payload(name="checkout", namespace="shop", status=status, stage="rollout")
    assert {key: payload[key] for key in expected} == expected


def test_the_payload_shape_is_the_same_for_every_webhook() -> None:
    payload = webhook_payload(
        name="checkout",
        namespace="shop",
        status=RUNNING,
        stage="preRollout",
        labels={"team": "payments"},
        annotations={
            "owner": "ana",
            LAST_APPLIED: '{"kind": "CanaryRelease"}',
            "graygate.dev/last-handled-configuration": '{"spec": {}}',
            "graygate.dev/kopf-managed": "yes",
        },
        metadata={"suite": "smoke"},
    )
    assert payload == {
        "name": "checkout",
        "namespace": "shop",
        "phase": "Progressing",
        "stage": "preRollout",
        "step": 2,
        "canaryWeight": 20,
        "stableWeight": 80,
        "canaryRevision": "7d9f",
        "stableRevision": "5c4b",
        "labels": {"team": "payments"},
        "annotations": {"owner": "ana"},
        "metadata": {"suite": "smoke"},
    }


def test_the_gate_s_payload_comes_from_the_scope() -> None:
    scope = QueryScope(
        namespace="shop",
        release="checkout",
        spec=None,  # type: ignore[arg-type]  # the payload reads no spec
        status=RUNNING,
        labels={"team": "payments"},
        annotations={LAST_APPLIED: "{}"},
    )
    payload = payload_of_scope(scope, metadata={"a": "b"})
    assert (payload["name"], payload["stage"], payload["labels"], payload["annotations"]) == (
        "checkout",
        "rollout",
        {"team": "payments"},
        {},
    )
    assert payload["metadata"] == {"a": "b"}
    assert payload_of_scope(None)["name"] == ""
