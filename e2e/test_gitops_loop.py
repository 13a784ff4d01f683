"""The GitOps loop end to end: one Deployment, one VirtualService and one long-lived release applied once, then
only the image changes, as a commit per version would change it.

The sandbox's kube-controller-manager and kwok roll the Deployments out for real (ReplicaSets, pods that become
Ready); the traffic lab runs a backend per revision of each Deployment's ready pods (the image tag is the version it
serves, the `LAB_*` env of the pod template its faults), each pod a WorkloadEntry istiod sees, behind a real Envoy
that istiod configures from the VirtualService the operator writes; Prometheus scrapes the backends for the built-in
success-rate gate. The users are the load generator: every request they send is accounted for.

v1 is adopted as stable; v2 (healthy) is promoted; v3 (half its answers 500) is rolled back while v2 keeps serving;
v4 (healthy) is promoted. No user request fails outside v3's bad window (from its first failed request until its
weight is back at 0).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from e2e.lab import TrafficLab, WorkloadSide
from e2e.lab.loadgen import LoadResult
from e2e.support import (
    StatusRecorder,
    apply_release,
    create_destination_rule,
    errors_gate,
    in_phase,
    istio_mesh,
    lab_release,
    pod_lister,
)
from graygate.sandbox import READY_AFTER_ANNOTATION, ControlPlane
from tests.argocd_diff import fields_changed, load_rules
from tests.cluster_support import ISTIO, RELEASES, OperatorProcess, WeightRecorder

REPO = Path(__file__).resolve().parents[1]

APP = "app"
PRIMARY = "app-primary"
RATE = 40
"""Requests per second through Envoy, for the whole story."""


def deployment(version: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The Deployment as Git holds it."""
    container: dict[str, Any] = {"name": "app", "image": f"example/app:{version}"}
    if env:
        container["env"] = [{"name": name, "value": value} for name, value in env.items()]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "labels": {"app.kubernetes.io/instance": "shop"}},
        "spec": {
            "replicas": 2,
            # A pod counts as available 1 s after it is Ready: the lab's Envoy learns a Ready pod's endpoint within
            # a few hundred ms, as a mesh's endpoint discovery does, and traffic must not arrive before it.
            "minReadySeconds": 1,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                # Ready 2 s after it is scheduled, as a container that takes time to start: the lab's backend for
                # the revision starts meanwhile, as the real one would.
                "metadata": {"labels": {"app": APP}, "annotations": {READY_AFTER_ANNOTATION: "2s"}},
                "spec": {"containers": [container]},
            },
        },
    }


def release() -> dict[str, Any]:
    body = lab_release(APP, [{"setWeight": 25}, {"setWeight": 50}], [errors_gate("PROMETHEUS")], inconclusiveLimit=30)
    body["spec"]["workload"] = {"name": APP, "scaleDownDelay": "2s"}
    return body


@pytest.fixture
async def gitops_lab(sandbox: ControlPlane, api: client.ApiClient, namespace: str) -> AsyncIterator[TrafficLab]:
    """The lab with one side per Deployment (the primary is the stable subset, the followed one the canary), its
    Envoy configured by the sandbox's istiod from VirtualService `app` and the DestinationRule whose subsets select
    each Deployment's pods."""
    custom = client.CustomObjectsApi(api)
    vs = TrafficLab.weighted_virtualservice({"stable": 100, "canary": 0})
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=vs)
    create_destination_rule(api, namespace, subsets={"stable": {"app": PRIMARY}, "canary": {"app": APP}})
    sides = [WorkloadSide("stable", PRIMARY, {"app": PRIMARY}), WorkloadSide("canary", APP, {"app": APP})]
    async with TrafficLab(
        prometheus=True, namespace=namespace, workloads=sides, list_pods=pod_lister(api), mesh=istio_mesh(sandbox)
    ) as lab:
        yield lab


def ignore_rules() -> Any:
    """The documented `ignoreDifferences` (argocd/ignore-differences.yaml), for this test's object names."""
    entries = yaml.safe_load((REPO / "argocd" / "ignore-differences.yaml").read_text())
    return load_rules([entry | {"name": APP} if entry.get("name") else entry for entry in entries])


async def argocd_diffs(api: client.ApiClient, namespace: str, git: dict[str, dict[str, Any]], rules: Any) -> list[str]:
    """What Argo CD would show out of sync: each object as Git holds it against the live one, outside `rules`."""
    apps, custom = client.AppsV1Api(api), client.CustomObjectsApi(api)
    live = {
        "Deployment": api.sanitize_for_serialization(
            await asyncio.to_thread(apps.read_namespaced_deployment, APP, namespace)
        ),
        "VirtualService": await asyncio.to_thread(
            custom.get_namespaced_custom_object, **ISTIO, namespace=namespace, name=APP
        ),
        "CanaryRelease": await asyncio.to_thread(
            custom.get_namespaced_custom_object, **RELEASES, namespace=namespace, name=APP
        ),
    }
    return [f"{kind} {path}" for kind, body in git.items() for path in fields_changed(body, live[kind], rules)]


async def set_version(api: client.ApiClient, namespace: str, version: str, env: dict[str, str] | None = None) -> None:
    apps = client.AppsV1Api(api)
    # The whole template, as `kubectl apply` of the next commit would leave it: a strategic merge of the new
    # container would keep the previous version's env.
    body = [{"op": "replace", "path": "/spec/template", "value": deployment(version, env)["spec"]["template"]}]
    await asyncio.to_thread(apps.patch_namespaced_deployment, APP, namespace, body)


async def replicas(api: client.ApiClient, namespace: str, name: str) -> int:
    found = await asyncio.to_thread(client.AppsV1Api(api).read_namespaced_deployment, name, namespace)
    return int(found.spec.replicas)


async def until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def served(result: LoadResult) -> dict[str | None, int]:
    return dict(result.counts())


async def test_one_commit_per_version_promotes_the_good_and_rolls_back_the_bad(
    api: client.ApiClient, namespace: str, gitops_lab: TrafficLab, operator: OperatorProcess
) -> None:
    lab = gitops_lab
    apps = client.AppsV1Api(api)
    await asyncio.to_thread(apps.create_namespaced_deployment, namespace, deployment("v1"))
    body = release()
    body["spec"]["analysis"]["gates"] = [errors_gate(lab.prometheus_url)]
    await apply_release(api, namespace, body)
    git = {
        "Deployment": deployment("v1"),
        "VirtualService": TrafficLab.weighted_virtualservice({"stable": 100, "canary": 0}),
        "CanaryRelease": body,
    }
    rules = ignore_rules()
    fights: list[str] = []
    recorder = StatusRecorder(api, namespace, APP)
    recorder.start()
    weights = WeightRecorder(api, namespace, APP)
    load = lab.load(rate_per_s=RATE, max_requests=RATE * 300, max_duration_s=300)
    try:
        await recorder.until(in_phase("Succeeded"), 60, "v1 to be adopted as stable")
        await until(lambda: _served_by(lab, "v1"), 30, "the lab to serve v1 from the primary's pods")
        await lab.prometheus.wait_targets_up()
        load.start()
        await asyncio.sleep(2)

        revisions: dict[str, str] = {}
        changed_at: dict[str, float] = {}
        ended_at: dict[str, float] = {}
        for version, env, outcome in (
            ("v2", None, "Succeeded"),
            ("v3", {"LAB_ERROR_RATE": "0.5"}, "Failed"),
            ("v4", None, "Succeeded"),
        ):
            before = recorder.latest().get("revision")
            changed_at[version] = time.monotonic()
            await set_version(api, namespace, version, env)
            git["Deployment"] = deployment(version, env)
            started = await recorder.until(lambda s, b=before: s.get("revision") not in (None, b), 30, version)
            revisions[version] = started.status["revision"]
            await recorder.until(
                lambda s: s.get("canaryWeight", 0) > 0 or s.get("phase") in ("Succeeded", "Failed"), 60, "traffic"
            )
            fights += await argocd_diffs(api, namespace, git, rules)
            ended = await recorder.until(
                lambda s, r=revisions[version]: s.get("revision") == r and s.get("phase") in ("Succeeded", "Failed"),
                120,
                f"the run of {version} to end",
            )
            assert ended.status["phase"] == outcome, ended.status.get("message")
            ended_at[version] = ended.at
            await until(lambda: _canary_replicas_zero(api, namespace), 30, f"the canary scaled to 0 after {version}")
            await asyncio.sleep(2)
        await asyncio.sleep(2)
    finally:
        result = await load.stop()
        weights.stop()
        await recorder.stop()
        failed = result.failures()
        print(f"\nusers: {result.counts()}; statuses {result.statuses()}; failed {len(failed)}: {failed[:3]}")
        print(f"weights: {[(round(at, 1), w) for at, w in weights.changes]}")

    fights += await argocd_diffs(api, namespace, git, rules)
    assert not fights, f"Argo CD would fight graygate over {fights}"
    unguarded = await argocd_diffs(api, namespace, git, ())
    assert unguarded == ["Deployment /spec/replicas"], "without the documented rules, only the scale differs at rest"
    final = recorder.latest()
    assert final["stableRevision"] == revisions["v4"]
    primary = await asyncio.to_thread(apps.read_namespaced_deployment, PRIMARY, namespace)
    assert primary.spec.template.spec.containers[0].image == "example/app:v4"

    failures = result.failures()
    assert failures, "v3 answered half its requests with 500: the users must have seen some"
    bad_start = failures[0].sent_at
    back = [at for at, (_, canary) in weights.changes if at > bad_start and canary == 0]
    assert back, "v3's weight never went back to 0"
    outside = [s for s in failures if not bad_start <= s.sent_at <= back[0] + 0.5]
    assert not outside, f"{len(outside)} failed requests outside v3's bad window: {outside[:5]}"
    in_window = result.between(bad_start, back[0] + 0.5)
    assert {s.version for s in in_window.failures()} <= {"v3", None}, "only v3 failed users"
    # Between runs, the users are served by the stable version alone: v2 once it is promoted, and still v2 once
    # v3 is rolled back (a second after each end, for the Envoy update).
    for settled, until_change, stable in (("v2", "v3", "v2"), ("v3", "v4", "v2")):
        between = result.between(ended_at[settled] + 1.0, changed_at[until_change])
        assert served(between) == {stable: len(between.samples)}, f"after {settled}: {served(between)}"
    last = result.between(start=time.monotonic() - 3)
    assert served(last) == {"v4": len(last.samples)}, f"after v4's promotion users were served by {served(last)}"
    print(f"\nusers: {result.counts()}; failed in v3's window: {len(failures)}")


async def _served_by(lab: TrafficLab, version: str) -> bool:
    probe = lab.load(rate_per_s=20, max_requests=10, max_duration_s=2)
    probe.start()
    result = await probe.finished()
    return served(result) == {version: 10}


async def _canary_replicas_zero(api: client.ApiClient, namespace: str) -> bool:
    return await replicas(api, namespace, APP) == 0
