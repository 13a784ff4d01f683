"""graygate, Flagger and Argo Rollouts on one sandbox: `python -m e2e.bench_peers` (or `make bench-peers`).

Why: a claim that graygate is faster or safer than its peers is worth something only when all three run against the
same API server, istiod and service, on one machine, in one run. This first proves that each peer, built from source
by `make peers`, reconciles in this sandbox what its documentation says it does (it fails loudly when one does not):

- Flagger (Istio provider): a Canary of a Deployment gets its primary Deployment, its Services, their
  DestinationRules and the VirtualService, and the Canary reaches phase Initialized;
- Argo Rollouts (Istio subset-level traffic splitting): a Rollout whose template changes sets the canary's weight
  of its first step in the VirtualService and labels the DestinationRule's subsets with its ReplicaSets' hashes.

Then each tool, in its own namespace with its own traffic lab (the same backends, an Envoy istiod configures, a
Prometheus scraping every second), runs every scenario of `e2e/peer_runs.py` `--runs` times over the step plan
10 -> 25 -> 50 -> 100 % (50 user requests/s): a canary that turns bad at 25 % (10 % 5xx, or its p99 x3), a healthy
one, and a healthy one with 0.5 % 5xx on both versions. It prints each tool's settings with their sources, then a
table of medians and spreads with ratios against graygate, and exits 1 when graygate's median is worse than a
peer's by more than the spread of the runs on seconds until the users are back on stable or on failed user requests
for a bad canary (e2e/peer_report.py).

Every wait is bounded; every process is stopped on the way out, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from e2e.lab import IstioMesh, LoadResult, TrafficLab, WorkloadSide
from e2e.lab.errors import LabError
from e2e.peer_report import regressions, summarize, table
from e2e.peer_runs import SCENARIOS, Outcome, Scenario, Tool, drive
from e2e.peer_tools import (
    ARGO_SETTINGS,
    FLAGGER_SETTINGS,
    GRAYGATE_SETTINGS,
    ArgoTool,
    FlaggerTool,
    GraygateTool,
    argo_lab,
    flagger_lab,
)
from e2e.peers import (
    FLAGGER,
    ROLLOUTS,
    PeerBuild,
    PeerError,
    custom_object,
    deployment,
    flagger_canary,
    flagger_process,
    istio_object,
    peer_builds,
    rollout,
    rollouts_process,
    route_weights,
    until,
)
from e2e.support import create_destination_rule, istio_mesh, pod_lister
from graygate.sandbox import ControlPlane, ControlPlaneSettings

REPO = Path(__file__).resolve().parents[1]
RECONCILE_TIMEOUT_S = 60.0
ROLLOUT_HASH = "rollouts-pod-template-hash"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) after a clean run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario per tool (default 3)")
    parser.add_argument("--rate", type=float, default=50.0, help="user requests per second (default 50)")
    parser.add_argument("--scenarios", default=",".join(s.slug for s in SCENARIOS), help="which, by slug")
    parser.add_argument("--tools", default="graygate,flagger,argo", help="which tools run the scenarios")
    parser.add_argument("--run-timeout", type=float, default=150.0, help="seconds one canary may take")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 5:
        parser.error("--runs must be between 1 and 5")
    known = {s.slug for s in SCENARIOS}
    if unknown := set(args.scenarios.split(",")) - known:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {sorted(known)}")
    if unknown := set(args.tools.split(",")) - {"graygate", "flagger", "argo"}:
        parser.error(f"unknown tools {sorted(unknown)}; known: graygate, flagger, argo")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        flagger, argo = peer_builds()
    except PeerError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="graygate-peers-"))
    print(f"bench-peers: Flagger {flagger.version}, Argo Rollouts {argo.version}; logs in {workdir}")
    crds = (REPO / "crds" / "canaryreleases.graygate.dev.yaml", flagger.crds, argo.crds)
    # Without EndpointSlices (kwok's pod addresses reach nothing), the peers' Services reach the lab's backends.
    settings = ControlPlaneSettings(workloads=True, crd_files=crds, endpoint_slices=False)
    try:
        with ControlPlane(settings) as plane:
            print(f"sandbox up in {plane.startup_seconds:.1f} s")
            outcomes = asyncio.run(bench(plane.kubeconfig, istio_mesh(plane), flagger, argo, args, workdir))
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    except (AssertionError, TimeoutError, LabError, ApiException) as error:
        print(f"FAIL: {error}\nlogs kept in {workdir}", file=sys.stderr)
        return 1
    summaries = summarize(outcomes)
    print(f"\n{table(summaries)}\n")
    found = regressions(summaries, [s.name for s in SCENARIOS if s.turns_bad])
    for line in found:
        print(f"REGRESSION: {line}")
    print("FAIL" if found else "PASS", "(graygate against each peer, bad canaries, medians within the spread)")
    if not args.keep and not found:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if found else 0


async def bench(
    kubeconfig: Path, mesh: IstioMesh, flagger: PeerBuild, argo: PeerBuild, args: argparse.Namespace, workdir: Path
) -> list[Outcome]:
    await reconcile_checks(kubeconfig, mesh, flagger, argo, workdir)
    scenarios = [s for s in SCENARIOS if s.slug in args.scenarios.split(",")]
    tools = args.tools.split(",")
    outcomes: list[Outcome] = []
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    with api:
        if "graygate" in tools:
            print_settings("graygate", GRAYGATE_SETTINGS)
            operator = await GraygateTool.prepare(api, kubeconfig, workdir)
            try:
                lab = TrafficLab(prometheus=True, namespace=GraygateTool.namespace, mesh=mesh, workdir=workdir / "gg")
                async with lab:
                    await lab.prometheus.wait_targets_up()
                    await run_scenarios(GraygateTool(api, lab, operator), lab, scenarios, args, outcomes)
            finally:
                operator.stop()
        if "flagger" in tools:
            print_settings(f"Flagger {flagger.version}", FLAGGER_SETTINGS)
            await FlaggerTool.prepare(api)
            async with flagger_lab(api, FlaggerTool.namespace, mesh, workdir / "flagger-lab") as lab:
                process = FlaggerTool.start_process(flagger, kubeconfig, lab, workdir / "flagger.log")
                try:
                    tool = FlaggerTool(api, lab, process)
                    await tool.create_canary()
                    await run_scenarios(tool, lab, scenarios, args, outcomes)
                finally:
                    process.stop()
        if "argo" in tools:
            print_settings(f"Argo Rollouts {argo.version}", ARGO_SETTINGS)
            await ArgoTool.prepare(api)
            async with argo_lab(api, ArgoTool.namespace, mesh, workdir / "argo-lab") as lab:
                process = rollouts_process(argo, kubeconfig, ArgoTool.namespace, workdir / "rollouts.log")
                process.start()
                try:
                    argo_tool = ArgoTool(api, lab, process)
                    await argo_tool.create_rollout()
                    await run_scenarios(argo_tool, lab, scenarios, args, outcomes)
                finally:
                    process.stop()
    return outcomes


def print_settings(tool: str, settings: dict[str, tuple[str, str]]) -> None:
    print(f"\n{tool} settings:")
    for key, (value, source) in settings.items():
        print(f"  {key} = {value}  ({source})")


async def run_scenarios(
    tool: Tool, lab: TrafficLab, scenarios: list[Scenario], args: argparse.Namespace, outcomes: list[Outcome]
) -> None:
    for index in range(1, args.runs + 1):
        for scenario in scenarios:
            outcome = await drive(tool, lab, scenario, index, args.rate, args.run_timeout)
            print(row(outcome), flush=True)
            outcomes.append(outcome)


def row(o: Outcome) -> str:
    back = "-" if o.back_on_stable_s is None else f"{o.back_on_stable_s:.2f} s"
    promoted = "-" if o.promoted_s is None else f"{o.promoted_s:.1f} s"
    return (
        f"{o.tool:<9} {o.scenario:<26} run {o.index}: {o.ended:<11} users back on stable {back:>8}, "
        f"{o.failed:>4} failed, stopped at {o.stopped_at_weight if o.stopped_at_weight is not None else '-'}%, "
        f"promoted in {promoted}"
    )


async def reconcile_checks(
    kubeconfig: Path, mesh: IstioMesh, flagger: PeerBuild, argo: PeerBuild, workdir: Path
) -> None:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    with api:
        seconds, served = await flagger_reconciles(api, kubeconfig, mesh, flagger, workdir)
        print(f"Flagger {flagger.version}: Canary (Istio) Initialized in {seconds:.1f} s; requests served: {served}")
        seconds, served = await rollouts_reconcile(api, kubeconfig, mesh, argo, workdir)
        print(f"Argo Rollouts {argo.version}: canary at 10 % in {seconds:.1f} s; requests served: {served}")


async def create_namespace(api: client.ApiClient, name: str) -> None:
    body = client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    await asyncio.to_thread(client.CoreV1Api(api).create_namespace, body)


def served_share(result: LoadResult, version: str) -> float:
    counts = result.counts()
    return counts.get(version, 0) / max(1, sum(counts.values()))


async def flagger_reconciles(
    api: client.ApiClient, kubeconfig: Path, mesh: IstioMesh, build: PeerBuild, workdir: Path
) -> tuple[float, dict[str | None, int]]:
    """A Canary of Deployment `app` gets `app-primary`, the VirtualService `app` all on the primary, the
    DestinationRules `app-primary` and `app-canary`, and phase Initialized; the users then reach the primary's pod
    (the lab's backend for it), through Flagger's Service `app-primary` and its VirtualService."""
    namespace = "reconcile-flagger"
    await create_namespace(api, namespace)
    apps, custom = client.AppsV1Api(api), client.CustomObjectsApi(api)
    body: Any = deployment("app", "app:v1", {"app": "app"})  # the client takes the API's JSON as well
    await asyncio.to_thread(apps.create_namespaced_deployment, namespace, body)
    # The sides are named so the lab's own hosts (app-p, app-c) are not Flagger's Services (app-primary, app-canary).
    sides = [WorkloadSide("p", "app-primary", {"app": "app-primary"}), WorkloadSide("c", "app", {"app": "app"})]
    lab = TrafficLab(
        namespace=namespace, workloads=sides, list_pods=pod_lister(api), mesh=mesh, workdir=workdir / "flagger-lab"
    )
    async with lab:
        # Nothing listens there: Flagger reads metrics only during an analysis, which this check never reaches.
        log = workdir / "flagger-reconcile.log"
        process = flagger_process(build, kubeconfig, namespace, "http://127.0.0.1:9", log)
        process.start()
        try:
            started = time.monotonic()
            analysis: dict[str, Any] = {"interval": "10s", "threshold": 1, "stepWeights": [10, 25, 50], "metrics": []}
            canary = flagger_canary("app", lab.mesh_port, analysis)
            await asyncio.to_thread(
                custom.create_namespaced_custom_object, FLAGGER["group"], FLAGGER["version"], namespace,
                FLAGGER["plural"], canary,
            )  # fmt: skip

            def initialized() -> bool:
                status = custom_object(api, FLAGGER, namespace, "app").get("status") or {}
                return status.get("phase") == "Initialized"

            await until(initialized, RECONCILE_TIMEOUT_S, "bring Canary app to phase Initialized", process)
            elapsed = time.monotonic() - started
            await asyncio.to_thread(apps.read_namespaced_deployment, "app-primary", namespace)
            vs = await asyncio.to_thread(istio_object, api, "virtualservices", namespace, "app")
            weights = route_weights(vs)
            if weights != {"app-primary": 100, "app-canary": 0}:
                raise PeerError(f"Flagger's VirtualService app routes {weights}, not all to app-primary: {vs['spec']}")
            for name in ("app-primary", "app-canary"):
                rule = await asyncio.to_thread(istio_object, api, "destinationrules", namespace, name)
                if rule["spec"].get("host") != name:
                    raise PeerError(f"Flagger's DestinationRule {name} is for host {rule['spec'].get('host')}")
            result = await reach(lab, lambda r: served_share(r, "v1") == 1.0, "all requests served by v1 (primary)")
            return elapsed, result.counts()
        finally:
            process.stop()


async def reach(lab: TrafficLab, ok: Callable[[LoadResult], bool], what: str, timeout_s: float = 30.0) -> LoadResult:
    """Bursts of requests until one satisfies `ok` (istiod pushes a route a moment after the API server has it)."""
    deadline = time.monotonic() + timeout_s
    result = None
    while time.monotonic() < deadline:
        result = await lab.load(rate_per_s=100, max_requests=100, max_duration_s=5).run()
        if ok(result):
            return result
        await asyncio.sleep(0.5)
    raise PeerError(f"the lab's users never saw {what} in {timeout_s:.0f} s; last burst: {result and result.counts()}")


async def rollouts_reconcile(
    api: client.ApiClient, kubeconfig: Path, mesh: IstioMesh, build: PeerBuild, workdir: Path
) -> tuple[float, dict[str | None, int]]:
    """A Rollout on `app:v1`, then `app:v2`: its first step (10 %) shows in the VirtualService's route `primary`,
    the DestinationRule's subsets select its ReplicaSets' pods by their `rollouts-pod-template-hash`, and the
    lab's users reach both versions about 90:10."""
    namespace = "reconcile-argo"
    await create_namespace(api, namespace)
    custom = client.CustomObjectsApi(api)
    vs = TrafficLab.weighted_virtualservice({"stable": 100, "canary": 0})
    await asyncio.to_thread(
        custom.create_namespaced_custom_object, "networking.istio.io", "v1", namespace, "virtualservices", vs
    )
    await asyncio.to_thread(
        create_destination_rule, api, namespace, "app", {"stable": {"app": "app"}, "canary": {"app": "app"}}
    )
    side = WorkloadSide("r", "app", {"app": "app"}, hash_label=ROLLOUT_HASH)
    lab = TrafficLab(
        namespace=namespace, workloads=[side], list_pods=pod_lister(api), mesh=mesh, workdir=workdir / "argo-lab"
    )
    async with lab:
        process = rollouts_process(build, kubeconfig, namespace, workdir / "rollouts-reconcile.log")
        process.start()
        try:
            steps: list[dict[str, Any]] = [{"setWeight": 10}, {"pause": {}}]
            group, version, plural = ROLLOUTS["group"], ROLLOUTS["version"], ROLLOUTS["plural"]
            body = rollout("app", "app:v1", steps)
            await asyncio.to_thread(custom.create_namespaced_custom_object, group, version, namespace, plural, body)

            def phase(name: str) -> bool:
                return (custom_object(api, ROLLOUTS, namespace, "app").get("status") or {}).get("phase") == name

            await until(lambda: phase("Healthy"), RECONCILE_TIMEOUT_S, "bring Rollout app to Healthy", process)
            await reach(lab, lambda r: served_share(r, "v1") == 1.0, "all requests served by v1")
            started = time.monotonic()
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}}
            await asyncio.to_thread(
                custom.patch_namespaced_custom_object, group, version, namespace, plural, "app", patch
            )

            def at_first_step() -> dict[str, int] | None:
                found = route_weights(istio_object(api, "virtualservices", namespace, "app"), "primary")
                return found if found == {"app/stable": 90, "app/canary": 10} else None

            await until(at_first_step, RECONCILE_TIMEOUT_S, "set the canary's weight to 10 %", process)
            elapsed = time.monotonic() - started
            rule = await asyncio.to_thread(istio_object, api, "destinationrules", namespace, "app")
            hashes = {s["name"]: (s.get("labels") or {}).get(ROLLOUT_HASH) for s in rule["spec"]["subsets"]}
            if not hashes.get("stable") or not hashes.get("canary") or hashes["stable"] == hashes["canary"]:
                raise PeerError(f"Argo Rollouts did not label the subsets with two ReplicaSets' hashes: {rule['spec']}")
            # 100 requests at 10 %: 2 to 20 reach v2 unless the split is wrong (binomial, far beyond 3 sigma)
            result = await reach(lab, lambda r: 0.02 <= served_share(r, "v2") <= 0.2, "v2 serve about 10 %")
            return elapsed, result.counts()
        finally:
            process.stop()


if __name__ == "__main__":
    sys.exit(main())
