"""The release loop against the real control plane: a release follows a Deployment (kube-controller-manager and
kwok roll it out for real, with ReplicaSets and pods), adopts its first revision, releases each new one, promotes
the winner to the primary it creates, rolls a loser back, and never sends traffic to a canary mid-rollout. A new
revision mid-run starts over from 0 %, a run past its deadline pauses, deleting a release never jumps traffic to a
version that did not pass, and a promotion cut by a crash finishes once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.kube.events import REPORTING_CONTROLLER as REPORTER
from graygate.sandbox import HOLD_NOT_READY_LABEL
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    ProbeTarget,
    WeightRecorder,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)

APP = "checkout"
PRIMARY = "checkout-primary"


def deployment(image: str, replicas: int = 2, *, hold: bool = False) -> dict[str, Any]:
    """The Deployment as Git holds it: selector `app: checkout`, one container."""
    labels = {"app": APP} | ({HOLD_NOT_READY_LABEL: "true"} if hold else {})
    return {
        "metadata": {"name": APP, "labels": {"app.kubernetes.io/instance": "shop"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def followed_release(steps: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body = canary_release(
        APP,
        steps if steps is not None else [{"setWeight": 20}, {"setWeight": 50}],
        workload={"name": APP, "scaleDownDelay": "1s"},
        **spec,
    )
    return body


def probe_gate(target: ProbeTarget, failure_threshold: int = 1) -> dict[str, Any]:
    """A critical gate on the probe target's health."""
    return {
        "name": "health",
        "critical": True,
        "failureThreshold": failure_threshold,
        "httpProbe": {"url": target.url, "expectStatus": [200], "timeout": "500ms"},
    }


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def recorder(api: client.ApiClient, namespace: str) -> Iterator[WeightRecorder]:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **ISTIO, namespace=namespace, body=virtual_service(APP)
    )
    create_destination_rule(api, namespace)
    recording = WeightRecorder(api, namespace)
    yield recording
    recording.stop()


def status(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = release(api, namespace, APP).get("status", {})
    return found


def in_phase(api: client.ApiClient, namespace: str, phase: str, revision: str | None = None) -> dict[str, Any] | None:
    seen = status(api, namespace)
    if seen.get("phase") != phase or (revision is not None and seen.get("revision") != revision):
        return None
    return seen


def image_of(apps: client.AppsV1Api, namespace: str, name: str) -> str:
    found = apps.read_namespaced_deployment(name, namespace)
    return str(found.spec.template.spec.containers[0].image)


def replicas_of(apps: client.AppsV1Api, namespace: str, name: str) -> int:
    return int(apps.read_namespaced_deployment(name, namespace).spec.replicas)


def events(api: client.ApiClient, namespace: str) -> list[str]:
    """graygate's Events, read raw: the client's model refuses the controllers' Events (no `eventTime`)."""
    listed = client.EventsV1Api(api).list_namespaced_event(namespace, _preload_content=False)
    items = json.loads(listed.data)["items"]
    return [
        f"{event['reason']}: {event.get('note', '')}" for event in items if event.get("reportingController") == REPORTER
    ]


def condition(found: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in found.get("conditions", []) if c["type"] == kind)


def command(api: client.ApiClient, namespace: str, value: str) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        **RELEASES, namespace=namespace, name=APP, body={"metadata": {"annotations": {"graygate.dev/command": value}}}
    )


def this_run(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The history since the latest run started (its `NewRevision` entry excluded)."""
    history: list[dict[str, Any]] = found["history"]
    starts = [i for i, entry in enumerate(history) if entry["reason"] == "NewRevision"]
    return history[starts[-1] + 1 :] if starts else history


def delete_release(api: client.ApiClient, namespace: str) -> None:
    client.CustomObjectsApi(api).delete_namespaced_custom_object(**RELEASES, namespace=namespace, name=APP)

    def gone() -> bool:
        try:
            release(api, namespace, APP)
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone, 20, "the release to be deleted (finalizer removed)")


def adopt(api: client.ApiClient, apps: client.AppsV1Api, namespace: str, body: dict[str, Any], image: str) -> str:
    """Create the followed Deployment at `image` and the release; the revision adopted as stable."""
    apps.create_namespaced_deployment(namespace, deployment(image))
    client.CustomObjectsApi(api).create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    adopted = eventually(lambda: in_phase(api, namespace, "Succeeded"), 60, "the first revision to be adopted")
    return str(adopted["revision"])


def next_run(api: client.ApiClient, namespace: str, was: str) -> dict[str, Any]:
    """The status as first seen once the followed Deployment changes from revision `was`: a new run."""
    running: dict[str, Any] = eventually(
        lambda: (s := status(api, namespace)).get("revision") != was and s, 30, "a new run"
    )
    return running


def set_image(apps: client.AppsV1Api, namespace: str, image: str, *, hold: bool = False) -> None:
    spec = deployment(image, hold=hold)["spec"]
    # A strategic merge patch keeps labels it does not name: the held label of an earlier image goes only if nulled.
    spec["template"]["metadata"]["labels"].setdefault(HOLD_NOT_READY_LABEL, None)
    apps.patch_namespaced_deployment(APP, namespace, {"spec": spec})


def test_the_first_revision_is_adopted_and_the_next_one_promoted(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    stable = adopt(api, apps, namespace, followed_release(), "app:v1")
    assert status(api, namespace)["stableRevision"] == stable
    assert image_of(apps, namespace, PRIMARY) == "app:v1"
    primary = apps.read_namespaced_deployment(PRIMARY, namespace)
    assert primary.spec.selector.match_labels == {"app": PRIMARY}
    assert "app.kubernetes.io/instance" not in (primary.metadata.labels or {}), "Argo CD would prune it"
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the followed Deployment scaled to 0")

    set_image(apps, namespace, "app:v2")
    running = next_run(api, namespace, stable)
    assert "new revision" in running["runCause"]
    done = eventually(lambda: in_phase(api, namespace, "Succeeded", running["revision"]), 90, "v2 promoted")
    assert done["stableRevision"] == running["revision"]
    assert image_of(apps, namespace, PRIMARY) == "app:v2"
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the canary scaled to 0 after the run")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100, 0]
    phases = [entry["to"] for entry in done["history"]]
    assert phases[-2:] == ["Promoting", "Succeeded"]


def test_a_canary_mid_rollout_gets_no_traffic_and_a_stuck_one_hits_the_deadline(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    stable = adopt(api, apps, namespace, followed_release(progressDeadline="8s"), "app:v1")
    set_image(apps, namespace, "app:v2", hold=True)  # kwok keeps these pods Running but never Ready
    failed = eventually(lambda: in_phase(api, namespace, "Failed"), 60, "the deadline to fail the run")
    assert failed["revision"] != stable
    assert "progressDeadline 8s" in failed["message"], failed["message"]
    assert "before step 1" in failed["message"], failed["message"]
    recorder.stop()
    assert set(recorder.canary_sequence()) == {0}, "a canary that never became ready got traffic"
    assert image_of(apps, namespace, PRIMARY) == "app:v1"
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the failed canary scaled to 0")
    time.sleep(1.0)
    assert status(api, namespace)["phase"] == "Failed", "a failed run waits for the next revision"


def v2_held_at_50(api: client.ApiClient, apps: client.AppsV1Api, namespace: str) -> str:
    """v1 adopted, then v2's run held at 50 % by an indefinite pause (steps 20, 50, pause); v2's revision."""
    steps = [{"setWeight": 20}, {"setWeight": 50}, {"pause": {}}]
    stable = adopt(api, apps, namespace, followed_release(steps), "app:v1")
    set_image(apps, namespace, "app:v2")
    v2 = str(next_run(api, namespace, stable)["revision"])
    eventually(lambda: in_phase(api, namespace, "Paused", v2), 60, "v2 held at 50% for a promote")
    return v2


def test_a_new_revision_mid_run_starts_over_from_step_1(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    v2 = v2_held_at_50(api, apps, namespace)
    assert weights(api, namespace, APP) == (50, 50)

    set_image(apps, namespace, "app:v3")
    restarted = next_run(api, namespace, v2)
    v3 = restarted["revision"]
    assert restarted["phase"] == "Pending", restarted
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 5, "v2's canary back to 0%")
    said = eventually(
        lambda: [line for line in events(api, namespace) if line.startswith("NewRevision") and "arrived" in line],
        10,
        "a NewRevision Event",
    )
    assert "step 3/3" in said[0], said
    assert v2[:10] in said[0], said
    restart = [e for e in restarted["history"] if e["reason"] == "NewRevision"][-1]
    assert (restart["from"], restart["to"], restart["weight"]) == ("Paused", "Pending", 0)

    eventually(lambda: in_phase(api, namespace, "Paused", v3), 60, "v3 held at 50% for a promote")
    command(api, namespace, "promote/v3")
    done = eventually(lambda: in_phase(api, namespace, "Succeeded", v3), 60, "v3 promoted")
    assert done["stableRevision"] == v3
    assert image_of(apps, namespace, PRIMARY) == "app:v3"
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    recorder.stop()
    # v2 got 20 and 50, then never more than 0 again: the next weight up is v3's first step.
    assert recorder.canary_sequence() == [0, 20, 50, 0, 20, 50, 100, 0]
    started = [(e["step"], e["weight"]) for e in this_run(done) if e["reason"] in ("Started", "StepAdvanced")]
    assert started[:2] == [(0, 20), (1, 50)], started


def test_a_canary_whose_old_pods_still_serve_gets_no_traffic_until_its_rollout_completes(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    v2 = v2_held_at_50(api, apps, namespace)

    set_image(apps, namespace, "app:v3", hold=True)  # v3's pods never become Ready: v2's pods keep serving
    v3 = next_run(api, namespace, v2)["revision"]
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 5, "v2's canary back to 0%")
    rolling = apps.read_namespaced_deployment_status(APP, namespace).status
    assert (rolling.ready_replicas or 0) > 0, "v2's pods of the older ReplicaSet still serve"
    time.sleep(4)
    held = status(api, namespace)
    assert held["phase"] == "Pending", held
    assert held["revision"] == v3
    assert "current template" in held["message"] or "older ReplicaSet" in held["message"], held["message"]
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 0], "no weight while the canary is mid-rollout"


def test_a_bad_revision_is_rolled_back_and_the_next_one_released(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess, probe_target: ProbeTarget,
) -> None:  # fmt: skip
    body = followed_release(analysis={"interval": "1s", "gates": [probe_gate(probe_target)]})
    stable = adopt(api, apps, namespace, body, "app:v2")
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the followed Deployment scaled to 0")

    probe_target.status = 503
    set_image(apps, namespace, "app:v3")
    v3 = next_run(api, namespace, stable)["revision"]
    failed = eventually(lambda: in_phase(api, namespace, "Failed", v3), 60, "v3 rolled back")
    assert "health" in failed["message"], failed["message"]
    assert failed["stableRevision"] == stable
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 5, "all traffic on stable")
    assert image_of(apps, namespace, PRIMARY) == "app:v2"
    eventually(lambda: replicas_of(apps, namespace, APP) == 0, 30, "the failed canary scaled to 0")
    time.sleep(1.5)
    assert in_phase(api, namespace, "Failed", v3), "a failed run waits for the next revision"
    assert image_of(apps, namespace, PRIMARY) == "app:v2"

    probe_target.status = 200
    set_image(apps, namespace, "app:v4")  # no `retry`: a new revision starts a run by itself
    v4 = next_run(api, namespace, v3)["revision"]
    done = eventually(lambda: in_phase(api, namespace, "Succeeded", v4), 90, "v4 promoted")
    assert done["stableRevision"] == v4
    assert done.get("lastCommand") is None, "nobody sent a command"
    assert image_of(apps, namespace, PRIMARY) == "app:v4"
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 0, 20, 50, 100, 0]


def test_past_the_deadline_a_run_pauses_and_resume_goes_on(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess, probe_target: ProbeTarget,
) -> None:  # fmt: skip
    # A failing probe below its failureThreshold is `Waiting`: it holds the step without failing anything.
    gate = probe_gate(probe_target, failure_threshold=100)
    body = followed_release(
        analysis={"interval": "1s", "gates": [gate]}, progressDeadline="4s", onProgressDeadline="pause"
    )
    stable = adopt(api, apps, namespace, body, "app:v1")

    set_image(apps, namespace, "app:v2", hold=True)  # never ready: the run cannot start
    v2 = next_run(api, namespace, stable)["revision"]

    def stalled() -> dict[str, Any] | None:
        seen = status(api, namespace)
        found = condition(seen, "Stalled")
        return seen if found["status"] == "True" and found["reason"] == "ProgressDeadlineExceeded" else None

    late = eventually(stalled, 30, "the Pending run to be Stalled past its deadline")
    assert (late["phase"], late["revision"]) == ("Pending", v2), "nothing to pause before step 1"
    assert "before step 1" in condition(late, "Stalled")["message"]
    time.sleep(1.0)
    assert status(api, namespace)["phase"] == "Pending"
    assert weights(api, namespace, APP) == (100, 0)

    probe_target.status = 503
    set_image(apps, namespace, "app:v3")
    v3 = next_run(api, namespace, v2)["revision"]
    paused = eventually(lambda: in_phase(api, namespace, "Paused", v3), 60, "v3 paused past its deadline at 20%")
    assert paused["pauseReason"] == "ProgressDeadline", paused
    assert "at step 1/2 (20% to the canary)" in paused["message"], paused["message"]
    held = condition(paused, "Stalled")
    assert held["status"] == "True", held
    assert weights(api, namespace, APP) == (80, 20)

    probe_target.status = 200
    command(api, namespace, "resume/1")

    def resumed() -> dict[str, Any] | None:
        seen = status(api, namespace)
        return seen if seen["phase"] != "Paused" and condition(seen, "Stalled")["status"] == "False" else None

    going = eventually(resumed, 10, "resume to clear the pause and Stalled")
    assert going["lastCommand"]["result"] == "Applied", going["lastCommand"]
    eventually(lambda: in_phase(api, namespace, "Succeeded", v3), 60, "v3 promoted after the resume")
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100, 0]


def test_deleting_without_a_workload_keeps_a_passed_canary(
    api: client.ApiClient, namespace: str, recorder: WeightRecorder, operator: OperatorProcess
) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        **RELEASES, namespace=namespace, body=canary_release(APP, [{"setWeight": 50}])
    )
    eventually(lambda: in_phase(api, namespace, "Succeeded"), 30, "the release to succeed")
    eventually(lambda: weights(api, namespace, APP) == (0, 100), 10, "the canary at 100%")
    delete_release(api, namespace)
    time.sleep(1.0)
    assert weights(api, namespace, APP) == (0, 100), "the recorded routes would send everyone to the old version"
    recorder.stop()
    assert recorder.canary_sequence() == [0, 50, 100]


def test_deleting_a_followed_release_mid_run_sends_traffic_to_the_primary(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    stable = adopt(api, apps, namespace, followed_release([{"setWeight": 20}, {"pause": {}}]), "app:v1")
    set_image(apps, namespace, "app:v2")
    v2 = next_run(api, namespace, stable)["revision"]
    eventually(lambda: in_phase(api, namespace, "Paused", v2), 60, "v2 held at 20%")
    assert weights(api, namespace, APP) == (80, 20)
    delete_release(api, namespace)
    assert weights(api, namespace, APP) == (100, 0)
    assert image_of(apps, namespace, PRIMARY) == "app:v1"
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 0]


def test_deleting_a_promoted_followed_release_keeps_the_primary(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    stable = adopt(api, apps, namespace, followed_release(), "app:v1")
    set_image(apps, namespace, "app:v2")
    v2 = next_run(api, namespace, stable)["revision"]
    eventually(lambda: in_phase(api, namespace, "Succeeded", v2), 90, "v2 promoted")
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    delete_release(api, namespace)
    time.sleep(1.0)
    assert weights(api, namespace, APP) == (100, 0), "the primary runs the promoted revision"
    assert image_of(apps, namespace, PRIMARY) == "app:v2", "graygate never deletes the primary"
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100, 0]


@contextmanager
def primary_frozen(api: client.ApiClient, namespace: str) -> Iterator[None]:
    """The API server refuses every update of the primary Deployment (a ValidatingAdmissionPolicy) until the block
    ends: a promotion's write to the primary fails, deterministically, after its status and weights are written."""
    admission = client.AdmissionregistrationV1Api(api)
    name = f"hold-primary-{namespace}"
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"],
                         "resources": ["deployments"]}
                    ]
                },
                "validations": [
                    {
                        "expression": f"object.metadata.namespace != '{namespace}' || "
                        f"object.metadata.name != '{PRIMARY}'",
                        "message": "the test holds the primary",
                    }
                ],
            },
        }
    )  # fmt: skip
    admission.create_validating_admission_policy_binding(
        {"metadata": {"name": name}, "spec": {"policyName": name, "validationActions": ["Deny"]}}
    )

    def refused() -> bool:
        try:
            client.AppsV1Api(api).patch_namespaced_deployment(
                PRIMARY, namespace, {"metadata": {"labels": {"probe": "x"}}}, dry_run="All"
            )
        except ApiException as error:
            return error.status in (400, 403, 422)
        return False

    eventually(refused, 20, "the admission policy to hold the primary")
    try:
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
        eventually(lambda: not refused(), 20, "the admission policy to let the primary go")


def test_killed_while_promoting_finishes_the_promotion_once(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str, recorder: WeightRecorder,
    operator: OperatorProcess,
) -> None:  # fmt: skip
    stable = adopt(api, apps, namespace, followed_release(), "app:v1")
    with primary_frozen(api, namespace):
        set_image(apps, namespace, "app:v2")
        v2 = next_run(api, namespace, stable)["revision"]
        # The point of death: the promotion's status and its 100 % on the canary are written, and its write to the
        # primary is refused: the operator is killed between the traffic and the workload writes.
        eventually(lambda: in_phase(api, namespace, "Promoting", v2), 60, "v2 promoting")
        eventually(lambda: weights(api, namespace, APP) == (0, 100), 10, "the canary at 100% while promoting")
        operator.kill()
        assert status(api, namespace)["phase"] == "Promoting"
        assert image_of(apps, namespace, PRIMARY) == "app:v1", "the promotion's write to the primary was refused"
    operator.start()

    done = eventually(lambda: in_phase(api, namespace, "Succeeded", v2), 60, "v2 promoted after the restart")
    assert image_of(apps, namespace, PRIMARY) == "app:v2"
    eventually(lambda: weights(api, namespace, APP) == (100, 0), 10, "all traffic back on stable")
    reasons = [entry["reason"] for entry in this_run(done)]
    assert [entry["to"] for entry in this_run(done)].count("Promoting") == 1, reasons
    assert reasons.count("Succeeded") == 1, reasons
    entered = [entry["weight"] for entry in this_run(done) if entry["reason"] in ("Started", "StepAdvanced")]
    assert entered == [20, 50], f"a step was repeated: {reasons}"
    recorder.stop()
    assert recorder.canary_sequence() == [0, 20, 50, 100, 0]
