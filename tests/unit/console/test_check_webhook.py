"""`graygate lint` and `graygate check` with a `webhook` gate: lint applies the model's rules; check calls the webhook
once (the release's labels in the payload), and `--url` points it at a stand-in receiver without the Secret headers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from graygate.api import Outcome
from graygate.console.check import UrlOverride, apply_overrides
from graygate.console.check_run import CheckRequest, OfflineSecrets, run_check
from graygate.console.lint import lint_text

MANIFEST = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata:
  name: checkout
  namespace: shop
  labels: {team: payments}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 10}]
  analysis:
    interval: 10s
    gates:
      - name: smoke
        webhook:
          url: "http://smoke-tests.qa:8080/run"
          timeout: 2s
          headers:
            - {name: X-Team, value: payments}
            - {name: Authorization, valueFrom: {secretKeyRef: {name: smoke-token, key: token}}}
          metadata: {suite: checkout}
          expect: [{path: $.result, equals: passed}]
"""


class Receiver:
    """Answers every POST with `status` and `answer`; keeps each call's headers and JSON body."""

    def __init__(self) -> None:
        self.status = 200
        self.answer: dict[str, Any] = {"result": "passed"}
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.calls.append((dict(self.headers), json.loads(body)))
                answer = json.dumps(receiver.answer).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/run"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    serving = Receiver()
    yield serving
    serving.server.shutdown()
    serving.server.server_close()


def test_lint_accepts_the_webhook_and_names_a_bad_field() -> None:
    assert lint_text(MANIFEST, "m.yaml") == ([], 1)
    broken = MANIFEST.replace("{name: X-Team, value: payments}", "{name: X-Team}").replace("timeout: 2s", "retries: 9")
    problems, _ = lint_text(broken, "m.yaml")
    messages = " | ".join(problem.message for problem in problems)
    assert "spec.analysis.gates[0].webhook.retries" in messages
    assert "spec.analysis.gates[0].webhook.headers[0]" in messages
    assert "give exactly one of value or valueFrom" in messages


def test_a_url_override_of_a_webhook_drops_only_its_secret_headers() -> None:
    spec = {"analysis": {"gates": [{"name": "smoke", "webhook": {"url": "http://a", "headers": [
        {"name": "X-Team", "value": "payments"},
        {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}},
    ]}}]}}  # fmt: skip
    out = apply_overrides(spec, [UrlOverride("smoke", "http://127.0.0.1:1/run")])
    assert out["analysis"]["gates"][0]["webhook"] == {
        "url": "http://127.0.0.1:1/run",
        "headers": [{"name": "X-Team", "value": "payments"}],
    }


def test_check_calls_the_webhook_once_with_the_release_s_data(receiver: Receiver) -> None:
    report = run_check(CheckRequest(manifest_text=MANIFEST, source="m", urls=(UrlOverride("smoke", receiver.url),)))
    [smoke] = report.gates
    assert (smoke.kind, smoke.outcome, report.exit_code) == ("webhook", Outcome.PASS, 0)
    assert smoke.value == "status 200, $.result=passed"
    [(headers, payload)] = receiver.calls
    assert headers["X-Team"] == "payments"
    assert "Authorization" not in headers
    assert (payload["name"], payload["namespace"], payload["phase"], payload["step"]) == (
        "checkout",
        "shop",
        "Pending",
        1,
    )
    assert (payload["labels"], payload["metadata"]) == ({"team": "payments"}, {"suite": "checkout"})


def test_check_fails_on_a_refusing_webhook(receiver: Receiver) -> None:
    receiver.status, receiver.answer = 422, {"error": "change freeze"}
    report = run_check(CheckRequest(manifest_text=MANIFEST, source="m", urls=(UrlOverride("smoke", receiver.url),)))
    [smoke] = report.gates
    assert (smoke.outcome, smoke.value, report.exit_code) == (Outcome.FAIL, '422 {"error": "change freeze"}', 1)
    assert len(receiver.calls) == 1


def test_without_an_override_a_secret_header_cannot_be_read_and_nothing_is_sent() -> None:
    report = run_check(CheckRequest(manifest_text=MANIFEST, source="m"))
    [smoke] = report.gates
    assert (smoke.outcome, report.exit_code) == (Outcome.ERROR, 2)
    assert "Secret shop/smoke-token" in smoke.reason
    assert OfflineSecrets.WHY in smoke.reason
