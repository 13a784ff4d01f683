"""`graygate check` with stage hooks: the `preRollout` and `rollout` hooks are called as the operator calls them
(`webhook` gates with their stage in the payload), shown with their stage and counted in the exit code like gates;
the hooks that act on a live release are listed as not called, with the reason, and never called. `--url NAME=URL`
points a hook at a stand-in receiver (here a local one on 127.0.0.1) as it does a gate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from graygate.api import Outcome
from graygate.console.check import (
    NOT_CALLED,
    CheckReport,
    GateLine,
    NotCalled,
    UrlOverride,
    apply_overrides,
    render_human,
    render_json,
)
from graygate.console.check_run import CheckRequest, run_check
from graygate.errors import GraygateError

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
    interval: 30s
    gates:
      - name: smoke
        webhook: {url: "http://smoke-tests.qa:8080/run", timeout: 2s}
  hooks:
    - name: approve
      stage: confirmRollout
      webhook: {url: "http://hooks.qa/approve", timeout: 2s}
    - name: warm
      stage: preRollout
      webhook:
        url: "http://hooks.qa/warm"
        timeout: 2s
        headers:
          - {name: X-Team, value: payments}
          - {name: Authorization, valueFrom: {secretKeyRef: {name: hook-token, key: token}}}
        metadata: {suite: warm-up}
    - name: load
      stage: rollout
      webhook: {url: "http://hooks.qa/load", timeout: 2s}
    - name: ship-it
      stage: confirmPromotion
      webhook: {url: "http://hooks.qa/ship-it", timeout: 2s}
    - name: kill
      stage: rollback
      webhook: {url: "http://hooks.qa/kill", timeout: 2s}
    - name: tell
      stage: postRollout
      webhook: {url: "http://hooks.qa/tell", timeout: 2s}
"""
NAMES = ("smoke", "approve", "warm", "load", "ship-it", "kill", "tell")


class Receiver:
    """Answers a POST to `/NAME` with `status[NAME]` (200 unless set); keeps each call's path, headers, JSON."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.strip("/")
                receiver.calls.append((name, dict(self.headers), json.loads(body)))
                answer = json.dumps({"hook": name}).encode()
                self.send_response(receiver.status.get(name, 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def urls(self) -> tuple[UrlOverride, ...]:
        return tuple(UrlOverride(name, f"{self.base}/{name}") for name in NAMES)

    def called(self) -> dict[str, dict[str, Any]]:
        return {name: payload for name, _, payload in self.calls}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    serving = Receiver()
    yield serving
    serving.server.shutdown()
    serving.server.server_close()


def check(receiver: Receiver, *urls: UrlOverride) -> CheckReport:
    return run_check(CheckRequest(manifest_text=MANIFEST, source="m", urls=urls or receiver.urls()))


def test_pre_rollout_and_rollout_hooks_are_called_at_their_stage_and_the_others_never(receiver: Receiver) -> None:
    report = check(receiver)
    lines = {line.name: line for line in report.gates}
    assert [(line.name, line.kind, line.stage, line.outcome) for line in report.gates] == [
        ("warm", "webhook", "preRollout", Outcome.PASS),
        ("smoke", "webhook", None, Outcome.PASS),
        ("load", "webhook", "rollout", Outcome.PASS),
    ]
    assert report.exit_code == 0
    assert str(lines["warm"].value).startswith("status 200")
    called = receiver.called()
    assert sorted(called) == ["load", "smoke", "warm"], "a hook that acts on a live release is never called"
    assert {name: payload["stage"] for name, payload in called.items()} == {
        "warm": "preRollout",
        "smoke": "rollout",
        "load": "rollout",
    }
    warm = called["warm"]
    assert (warm["name"], warm["namespace"], warm["phase"], warm["labels"], warm["metadata"]) == (
        "checkout",
        "shop",
        "Pending",
        {"team": "payments"},
        {"suite": "warm-up"},
    )
    [warm_headers] = [headers for name, headers, _ in receiver.calls if name == "warm"]
    assert warm_headers["X-Team"] == "payments"
    assert "Authorization" not in warm_headers, "--url drops a hook's Secret headers, as a gate's"
    assert report.not_called == tuple(
        NotCalled(name, stage, NOT_CALLED[stage])
        for name, stage in (
            ("approve", "confirmRollout"),
            ("ship-it", "confirmPromotion"),
            ("kill", "rollback"),
            ("tell", "postRollout"),
        )
    )


@pytest.mark.parametrize(
    ("failing", "status", "outcome", "code"),
    [
        pytest.param("warm", 500, Outcome.FAIL, 1, id="pre-rollout-fails"),
        pytest.param("load", 409, Outcome.FAIL, 1, id="rollout-fails"),
        pytest.param("kill", 200, Outcome.PASS, 0, id="rollback-2xx-is-not-called"),
        pytest.param("approve", 403, Outcome.PASS, 0, id="confirm-rollout-is-not-called"),
        pytest.param("tell", 500, Outcome.PASS, 0, id="post-rollout-is-not-called"),
    ],
)
def test_a_called_hook_counts_in_the_exit_code_like_a_gate(
    receiver: Receiver, failing: str, status: int, outcome: Outcome, code: int
) -> None:
    receiver.status[failing] = status
    report = check(receiver)
    assert (report.outcome, report.exit_code) == (outcome, code)
    if code:
        assert [line.name for line in report.deciding] == [failing]


def test_a_hook_that_does_not_answer_fails_as_in_the_operator(receiver: Receiver) -> None:
    urls = (*receiver.urls()[:2], UrlOverride("warm", "http://127.0.0.1:1/warm"), *receiver.urls()[3:])
    report = check(receiver, *urls)
    assert (report.outcome, report.exit_code) == (Outcome.FAIL, 1)  # a preRollout hook without a 2xx stops a release
    assert [line.name for line in report.deciding] == ["warm"]


def test_without_an_override_a_hook_s_secret_header_cannot_be_read(receiver: Receiver) -> None:
    urls = tuple(override for override in receiver.urls() if override.gate != "warm")
    report = check(receiver, *urls)
    warm = next(line for line in report.gates if line.name == "warm")
    assert (warm.outcome, report.exit_code) == (Outcome.ERROR, 2)
    assert "Secret shop/hook-token" in warm.reason
    assert "warm" not in receiver.called()


def test_the_human_report_shows_each_with_its_stage_and_what_was_not_called(receiver: Receiver) -> None:
    receiver.status["load"] = 503
    text = render_human(check(receiver), color=False)
    lines = text.splitlines()
    assert lines[0].split() == ["GATE", "KIND", "STAGE", "VERDICT", "VALUE", "THRESHOLD", "REASON"]
    stage = lines[0].index("STAGE")
    assert [line[stage:].split()[0] for line in lines[1:4]] == ["preRollout", "-", "rollout"]
    assert lines[5] == "not called by check (they act on a live release):"
    assert lines[6].split()[:2] == ["approve", "confirmRollout"]
    assert lines[6].endswith(NOT_CALLED["confirmRollout"])
    assert lines[-1] == "shop/checkout: Fail (failed: load)"


def test_the_json_report_marks_hooks_and_lists_those_not_called(receiver: Receiver) -> None:
    document = json.loads(render_json(check(receiver)))
    assert [(gate["name"], gate.get("stage")) for gate in document["gates"]] == [
        ("warm", "preRollout"),
        ("smoke", None),
        ("load", "rollout"),
    ]
    assert [(hook["name"], hook["stage"]) for hook in document["notCalled"]] == [
        ("approve", "confirmRollout"),
        ("ship-it", "confirmPromotion"),
        ("kill", "rollback"),
        ("tell", "postRollout"),
    ]
    assert document["verdict"] == "Pass"


def test_a_pass_with_hooks_says_so() -> None:
    report = CheckReport(
        release="shop/checkout",
        gates=(
            GateLine(name="health", kind="httpProbe", outcome=Outcome.PASS, reason="ok"),
            GateLine(name="warm", kind="webhook", outcome=Outcome.PASS, reason="ok", stage="preRollout"),
        ),
    )
    assert (
        render_human(report, color=False).splitlines()[-1] == "shop/checkout: Pass (all 2 gate(s) and hook(s) passed)"
    )


def test_only_hooks_not_called_is_a_pass_that_lists_them() -> None:
    report = CheckReport(release="shop/checkout", gates=(), not_called=(NotCalled("tell", "postRollout", "why"),))
    assert render_human(report, color=False).splitlines() == [
        "not called by check (they act on a live release):",
        "  tell  postRollout  why",
        "",
        "shop/checkout: Pass (no gate or hook to call here)",
    ]
    assert report.exit_code == 0


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(UrlOverride("warm", "http://127.0.0.1:9/w"), {"url": "http://127.0.0.1:9/w"}, id="hook"),
        pytest.param(
            UrlOverride("warm", "http://127.0.0.1:9/w", "url"), {"url": "http://127.0.0.1:9/w"}, id="hook-field"
        ),
    ],
)
def test_url_overrides_reach_hooks(override: UrlOverride, expected: dict[str, str]) -> None:
    spec = {
        "analysis": {"gates": []},
        "hooks": [{"name": "warm", "stage": "preRollout", "webhook": {"url": "http://a"}}],
    }
    assert apply_overrides(spec, [override])["hooks"][0]["webhook"] == expected


def test_an_override_naming_nothing_lists_the_gates_and_the_hooks() -> None:
    spec = {
        "analysis": {"gates": [{"name": "smoke", "webhook": {"url": "http://a"}}]},
        "hooks": [{"name": "warm", "stage": "preRollout", "webhook": {"url": "http://a"}}],
    }
    with pytest.raises(GraygateError, match=r"the release has no gate nope \(gates: smoke; hooks: warm\)"):
        apply_overrides(spec, [UrlOverride("nope", "http://127.0.0.1:9/")])
