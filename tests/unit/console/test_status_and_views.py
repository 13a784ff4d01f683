"""`graygate status`'s decisions without a cluster: which exit code a release's status means for the run it waits
for, the transitions it prints, its durations; `get -o wide` clips nothing and `-o json|yaml` are whole; and
`graygate check` reports a target it cannot reach as not judged (exit 2), not as a failed canary."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import yaml

from graygate.api import Outcome
from graygate.api.spec import FollowedWorkload
from graygate.console import status as status_module
from graygate.console.check_run import CheckRequest, run_check
from graygate.console.get import GetRequest, view
from graygate.console.render import render_release, render_table
from graygate.console.status import StatusRequest, Target, exit_code, parse_duration, run_status, transition_line
from graygate.domain.release.revisions import revision_of
from graygate.errors import GraygateError
from tests.cluster_support import ProbeTarget


def _release(phase: str | None, *, generation: int = 2, observed: int | None = 2, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"observedGeneration": observed, **status}
    if phase is not None:
        body["phase"] = phase
    return {"metadata": {"name": "checkout", "namespace": "shop", "generation": generation}, "status": body}


@pytest.mark.parametrize(
    ("phase", "code"),
    [
        ("Succeeded", 0),
        ("Failed", 1),
        ("Aborted", 1),
        ("Invalid", 1),
        ("Paused", 2),
        ("Progressing", None),
        ("Pending", None),
        ("Promoting", None),
        (None, None),
    ],
)
def test_each_phase_has_its_exit_code(phase: str | None, code: int | None) -> None:
    assert exit_code(_release(phase), Target(generation=2)) == code


def test_a_status_of_an_earlier_spec_or_revision_is_not_the_run_waited_for() -> None:
    assert exit_code(_release("Succeeded", observed=1), Target(generation=2)) is None
    assert exit_code(_release("Succeeded", revision="old"), Target(generation=2, revision="new")) is None
    assert exit_code(_release("Succeeded", revision="new"), Target(generation=2, revision="new")) == 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("30m", 1800.0), ("1h30m", 5400.0), ("0.5s", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "0", "-3"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(GraygateError, match="--timeout"):
        parse_duration(text)


HISTORY = [
    {"from": "Pending", "to": "Progressing", "reason": "Started", "at": "2026-01-01T12:00:00Z", "step": 0,
     "weight": 10},
    {"from": "Progressing", "to": "Paused", "reason": "AwaitingPromotion", "message": "waiting for promote",
     "at": "2026-01-01T12:00:05Z", "step": 1, "weight": 10},
]  # fmt: skip


class FakeReleases:
    """Each GET returns the next frame (the last one forever); an exception frame is raised instead."""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        frame = self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]
        if isinstance(frame, Exception):
            raise frame
        result: dict[str, Any] = frame
        return result


def _run(monkeypatch: pytest.MonkeyPatch, frames: list[Any], timeout_s: float = 60) -> tuple[int, str]:
    monkeypatch.setattr(status_module, "KubeReleases", lambda api: FakeReleases(frames))
    monkeypatch.setattr(status_module, "workload_revision", lambda *_: None)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    out = io.StringIO()
    code = run_status(None, StatusRequest("shop", "checkout", timeout_s), out, sleep, lambda: now[0])
    return code, out.getvalue()


def test_status_prints_each_new_transition_once_and_exits_by_the_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [
        _release("Progressing", history=HISTORY[:1], stepDisplay="1/3", canaryWeight=10),
        _release("Progressing", history=HISTORY[:1]),
        _release("Paused", history=HISTORY, pauseReason="AwaitingPromotion", message="waiting for promote"),
    ]
    code, out = _run(monkeypatch, frames)
    assert code == 2
    assert out.splitlines() == [
        "shop/checkout: Progressing 1/3, canary 10%",
        "12:00:05  Progressing -> Paused  step 2, canary 10%  AwaitingPromotion: waiting for promote",
        "shop/checkout: Paused (AwaitingPromotion): waiting for promote",
    ]


def test_status_times_out_with_3(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(monkeypatch, [_release("Progressing")], timeout_s=5)
    assert code == 3
    assert out.splitlines()[-1] == "shop/checkout: still Progressing after 5 s: timed out"


def test_an_api_error_while_waiting_is_retried_not_an_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    from graygate.errors import ApiUnavailableError

    frames = [_release("Progressing"), ApiUnavailableError("API server unreachable"), _release("Succeeded")]
    code, out = _run(monkeypatch, frames)
    assert code == 0
    assert out.splitlines()[-1] == "shop/checkout: Succeeded"


def test_an_api_still_failing_at_the_timeout_is_raised_could_not_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    from graygate.errors import ApiUnavailableError

    with pytest.raises(ApiUnavailableError):
        _run(monkeypatch, [_release("Progressing"), ApiUnavailableError("API server unreachable")], timeout_s=5)


@pytest.mark.parametrize(
    "args",
    [
        ["status", "checkout", "--timeout", "soon"],
        ["status", "checkout", "--kubeconfig", "/no/such/kubeconfig"],
        ["get", "checkout", "--watch", "--until-done", "--kubeconfig", "/no/such/kubeconfig"],
    ],
    ids=" ".join,
)
def test_an_error_is_could_not_tell_exit_4_never_1_rolled_back(args: list[str], capsys: Any) -> None:
    from graygate import cli

    assert cli.main(args) == 4
    assert capsys.readouterr().err.startswith("graygate: ")
    assert cli.main(["get", "checkout", "--kubeconfig", "/no/such/kubeconfig"]) == 1  # not an outcome: 1


def test_a_transition_line() -> None:
    from graygate.api import Transition

    entry = Transition.model_validate(HISTORY[0])
    assert transition_line(entry) == "12:00:00  Pending -> Progressing  step 1, canary 10%  Started"


# ---- get -o wide, json, yaml -------------------------------------------------------------------------------------

LONG = "the canary's success rate is below the stable's by more than the allowance, " * 3


def _long_release() -> dict[str, Any]:
    release = _release("Progressing", message=LONG, revision="c873de8588bd0b9d", stepDisplay="2/5", canaryWeight=20)
    release["metadata"]["name"] = "a-release-with-a-name-long-enough-to-be-clipped-in-eighty-columns"
    release["status"]["recentResults"] = [
        {"gate": "success-rate", "kind": "prometheus", "outcome": "Fail", "reason": LONG, "at": "2026-01-01T12:00:00Z",
         "value": "71.4% of 1,234,567 requests", "threshold": ">= 99.9% over the last 5 minutes of traffic"},
    ]  # fmt: skip
    return release


def test_wide_clips_nothing_and_the_view_stays_in_80_columns() -> None:
    release = _long_release()
    narrow = render_table([release], color=False)
    wide = render_table([release], color=False, wide=True)
    assert max(map(len, narrow.splitlines())) <= 80
    assert release["metadata"]["name"] in wide
    assert "REVISION" in wide.splitlines()[0]
    assert "c873de8588bd0b9d" in wide
    assert LONG.strip() in wide
    detail = render_release(release, [], color=False, wide=True)
    assert LONG.strip() in detail
    assert "71.4% of 1,234,567 requests" in detail
    assert ">= 99.9% over the last 5 minutes of traffic" in detail
    # the title line holds the name whole (a release is named by it); every other line fits in 80 columns
    assert max(map(len, render_release(release, [], color=False).splitlines()[1:])) <= 80


class OneRelease:
    def __init__(self, release: dict[str, Any]) -> None:
        self.release = release

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.release

    def list(self, namespace: str | None) -> list[dict[str, Any]]:
        return [self.release]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_json_and_yaml_are_the_whole_object(output: str) -> None:
    release = _long_release()
    request = GetRequest(namespace="shop", name="checkout", output=output, watch=False, until_done=False)
    text, code = view(None, OneRelease(release), request, False)  # type: ignore[arg-type]
    assert (json.loads(text) if output == "json" else yaml.safe_load(text)) == release
    assert code is None
    listed = GetRequest(namespace=None, name=None, output=output, watch=False, until_done=False)
    text, _ = view(None, OneRelease(release), listed, False)  # type: ignore[arg-type]
    assert (json.loads(text) if output == "json" else yaml.safe_load(text)) == {"items": [release]}


# ---- check: an unreachable target is not judged ------------------------------------------------------------------

MANIFEST = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout, namespace: shop}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 10}]
  analysis:
    gates:
      - {name: in-cluster, httpProbe: {url: "http://no-such-host.invalid/healthz"}}
      - {name: closed, httpProbe: {url: "http://127.0.0.1:1/healthz"}}
"""


def test_check_reports_an_unreachable_target_as_not_judged_exit_2() -> None:
    report = run_check(CheckRequest(manifest_text=MANIFEST, source="release.yaml"))
    assert report.exit_code == 2
    assert report.outcome is Outcome.ERROR
    named, closed = report.gates
    assert named.outcome is closed.outcome is Outcome.ERROR
    assert named.reason.startswith("not judged: no-such-host.invalid does not resolve from here")
    assert closed.reason.startswith("not judged: 127.0.0.1:1 refused the connection")


def test_check_still_fails_a_canary_that_answers_badly() -> None:
    target = ProbeTarget()
    try:
        target.status = 503
        text = MANIFEST.replace("http://127.0.0.1:1/healthz", target.url)
        report = run_check(CheckRequest(manifest_text=text, source="release.yaml"))
    finally:
        target.close()
    assert report.exit_code == 1
    assert [g.outcome for g in report.gates] == [Outcome.ERROR, Outcome.FAIL]


# ---- the revision waited for is the operator's own ---------------------------------------------------------------


def test_with_track_config_the_revision_waited_for_hashes_the_configmaps_as_the_operator_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A push that changes only a ConfigMap is a new revision for `status` too (not only a new generation)."""
    from graygate.kube.followed import KubeFollowedWorkloads

    template = {"spec": {"containers": [{"name": "app", "image": "shop/checkout:1", "envFrom": [
        {"configMapRef": {"name": "settings"}}]}]}}  # fmt: skip
    deployment = {"metadata": {"name": "checkout"}, "spec": {"template": template}}
    config = {"metadata": {"name": "settings"}, "data": {"mode": "a"}}
    monkeypatch.setattr(KubeFollowedWorkloads, "_deployment", lambda self, namespace, name: deployment)
    monkeypatch.setattr(KubeFollowedWorkloads, "_config", lambda self, namespace, kind, name: config)
    release = {"metadata": {"name": "checkout"}, "spec": {"workload": {"name": "checkout", "trackConfig": True}}}
    before = status_module.workload_revision(object(), "shop", release)  # type: ignore[arg-type]
    adapter = KubeFollowedWorkloads(object())  # type: ignore[arg-type]
    assert before is not None
    assert before == adapter.canary_revision("shop", FollowedWorkload.model_validate(release["spec"]["workload"]))
    config["data"] = {"mode": "b"}
    assert status_module.workload_revision(object(), "shop", release) not in {None, before}
    plain = {"metadata": {"name": "checkout"}, "spec": {"workload": {"name": "checkout"}}}
    assert status_module.workload_revision(object(), "shop", plain) == revision_of(template)


def test_pending_for_a_confirm_rollout_approval_is_waiting_for_a_human_exit_2() -> None:
    from tests.cluster_support import canary_release

    hook = {
        "name": "approve",
        "stage": "confirmRollout",
        "webhook": {"url": "http://hooks.qa/approve", "timeout": "500ms"},
    }
    release = canary_release("checkout", [{"setWeight": 10}], hooks=[hook])
    release["metadata"].update(generation=2)
    asked = {"name": "approve", "stage": "confirmRollout", "lastVerdict": "Fail", "calls": 1, "passed": False}
    release["status"] = {"observedGeneration": 2, "phase": "Pending", "reason": "AwaitingConfirmation"}
    assert exit_code(release, Target(generation=2)) is None  # not asked yet: the operator is about to
    release["status"]["hooks"] = [asked]
    assert exit_code(release, Target(generation=2)) == 2
