"""How long do users suffer a bad canary? `python -m e2e.bench_rollback` (or `make bench-rollback`).

Why: "rolls back fast" is a claim about users, so it is measured where users are. This brings up everything for real on
127.0.0.1 (the sandbox API server and istiod, the traffic lab's Envoy configured by istiod, backends and a Prometheus
scraping every second, the operator as a child process), promotes a canary to 25 % then 50 %, turns it bad (10 % 5xx, or
p99 x3) and measures, from the load generator's side, the seconds until no request reaches the canary any more and how
many requests failed meanwhile. It also reads the operator's own figure, `graygate_time_to_rollback_seconds` (from the
analysis that failed to the VirtualServices written back), from its metrics endpoint.

For comparison, Flagger's floor: its analysis interval cannot go below 10 s (`GetAnalysisInterval` in
fluxcd/flagger `pkg/apis/flagger/v1beta1/canary.go` raises anything shorter to 10 s), so a bad canary is first
judged up to 10 s after it turns bad, before any metric window or threshold is counted.

It fails (exit 1) when any run took more than 10 s to put the users back on stable. Every wait is bounded; every
process is stopped on the way out, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from e2e.lab import IstioMesh, TrafficLab
from e2e.lab._process import free_port
from e2e.lab.errors import LabError
from e2e.support import (
    BAD_AFTER_SECOND_STEP,
    BASELINE_LATENCY,
    TRIPLED_LATENCY,
    StatusRecorder,
    apply_release,
    at_step,
    available_deployment,
    create_destination_rule,
    errors_gate,
    in_phase,
    istio_mesh,
    latency_gate,
    metric_release,
)
from graygate.sandbox import ControlPlane, ControlPlaneSettings
from tests.cluster_support import OperatorProcess, weights

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
SLO_S = 10.0
FLAGGER_FLOOR_S = 10.0
ENDED = ("Succeeded", "Failed", "Aborted", "Paused")
HEALTHY = {"error_rate": 0.0, **BASELINE_LATENCY}
GROUP, VERSION, PLURAL = "graygate.dev", "v1alpha1", "canaryreleases"


@dataclass(frozen=True)
class Scenario:
    name: str
    slug: str
    bad: dict[str, float]


SCENARIOS = (Scenario("5xx 10%", "errors", {"error_rate": 0.1}), Scenario("p99 x3", "latency", TRIPLED_LATENCY))


@dataclass(frozen=True)
class Run:
    """One bad canary, measured."""

    scenario: str
    index: int
    phase: str
    back_on_stable_s: float | None
    """From the canary turning bad to the first request of the rest of the run, none of which the canary served."""
    failed: int
    """Requests that failed (5xx or no answer) from the canary turning bad on."""
    served_by_canary: int
    """Requests the canary served in that time."""
    failed_phase_s: float | None
    """From the canary turning bad to the release's status first read as Failed."""
    operator_s: float | None
    """graygate_time_to_rollback_seconds for this release (the operator's own figure)."""
    message: str

    @property
    def passed(self) -> bool:
        return self.phase == "Failed" and self.back_on_stable_s is not None and self.back_on_stable_s <= SLO_S


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_rollback", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--rate", type=float, default=50.0, help="user requests per second (default 50)")
    parser.add_argument("--window", default="8s", help="the error gate's query window (default 8s; scrapes: 1 s)")
    parser.add_argument("--latency-window", default="10s", help="the p99 gate's window (default 10s: 100 requests)")
    parser.add_argument("--interval", default="1s", help="the analysis interval (default 1s)")
    parser.add_argument("--tick", type=float, default=0.25, help="the operator's tick interval in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) after a clean run")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be between 1 and 20")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="graygate-bench-"))
    print(f"bench-rollback: {args.runs} run(s) of {', '.join(s.name for s in SCENARIOS)}, {args.rate:g} requests/s")
    settings = ControlPlaneSettings(workloads=True, crd_files=(REPO / "crds" / "canaryreleases.graygate.dev.yaml",))
    try:
        with ControlPlane(settings) as plane:
            print(f"sandbox up in {plane.startup_seconds:.1f} s")
            runs = asyncio.run(bench(plane.kubeconfig, istio_mesh(plane), args, workdir))
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    except (AssertionError, TimeoutError, LabError, ApiException) as error:
        print(f"FAIL: the bench could not measure: {error}\nlogs kept in {workdir}", file=sys.stderr)
        return 1
    print(report(runs))
    ok = bool(runs) and all(run.passed for run in runs)
    if ok and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}")
    return 0 if ok else 1


async def bench(kubeconfig: Path, mesh: IstioMesh, args: argparse.Namespace, workdir: Path) -> list[Run]:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    with api:
        await prepare_namespace(api)
        operator, metrics_port = await start_operator(kubeconfig, args.tick, workdir / "operator.log")
        try:
            lab = TrafficLab(
                prometheus=True, namespace=NAMESPACE, workdir=workdir / "lab", keep_workdir=args.keep, mesh=mesh
            )
            async with lab:
                await lab.prometheus.wait_targets_up()
                runs: list[Run] = []
                print(HEADER, flush=True)
                for index in range(1, args.runs + 1):
                    for scenario in SCENARIOS:
                        run = await one_run(api, lab, scenario, index, args, metrics_port)
                        print(row(run), flush=True)
                        runs.append(run)
                return runs
        finally:
            operator.stop()


async def prepare_namespace(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await asyncio.to_thread(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    vs = TrafficLab.weighted_virtualservice({"stable": 100, "canary": 0})
    custom = client.CustomObjectsApi(api)
    await asyncio.to_thread(
        custom.create_namespaced_custom_object, "networking.istio.io", "v1", NAMESPACE, "virtualservices", vs
    )
    await asyncio.to_thread(create_destination_rule, api, NAMESPACE)
    await available_deployment(api, NAMESPACE, "app-canary")


async def one_run(
    api: client.ApiClient, lab: TrafficLab, scenario: Scenario, index: int, args: argparse.Namespace, port: int
) -> Run:
    name = f"bench-{scenario.slug}-{index}"
    for version in ("stable", "canary"):
        await lab.set_knobs(version, **HEALTHY)
    load = lab.load(rate_per_s=args.rate, max_requests=int(args.rate * 120), max_duration_s=120)
    load.start()
    recorder = StatusRecorder(api, NAMESPACE, name, every_s=0.1)
    try:
        # the last run's bad samples leave the windows
        await asyncio.sleep(max(window_seconds(args.window), window_seconds(args.latency_window)) + 1.0)
        gates: list[dict[str, Any]] = [
            errors_gate(lab.prometheus_url, window=args.window),
            latency_gate(lab.prometheus_url, window=args.latency_window),
        ]
        body = metric_release(name, BAD_AFTER_SECOND_STEP, gates, inconclusiveLimit=20)
        body["spec"]["analysis"]["interval"] = args.interval
        await apply_release(api, NAMESPACE, body)
        recorder.start()
        await recorder.until(at_step(2), 60, f"{name} to reach its observation pause")
        await lab.set_knobs("canary", **scenario.bad)
        bad_at = time.monotonic()
        done = await recorder.until(in_phase(*ENDED), 40, f"{name} to end after the canary went bad")
        failed_seen = next((s.at for s in recorder.seen if s.at >= bad_at and s.status.get("phase") == "Failed"), None)
        await asyncio.sleep(2.0)
    finally:
        result = await load.stop()
        await recorder.stop()
    back = result.zero_share_since("canary", bad_at)
    after = result.between(start=bad_at)
    run = Run(
        scenario=scenario.name,
        index=index,
        phase=str(done.status.get("phase")),
        back_on_stable_s=None if back is None else back - bad_at,
        failed=len(after.failures()),
        served_by_canary=after.between(end=back if back is not None else float("inf")).counts().get("canary", 0),
        failed_phase_s=None if failed_seen is None else failed_seen - bad_at,
        operator_s=await operator_time_to_rollback(port, name),
        message=str(done.status.get("message", "")),
    )
    await delete_release(api, name)
    return run


def window_seconds(window: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in ("ms", "s", "m"):
        if window.endswith(unit):
            return float(window.removesuffix(unit)) * units[unit]
    raise ValueError(f"cannot read the window {window!r}: use e.g. 5s")


async def start_operator(kubeconfig: Path, tick_s: float, log: Path, attempts: int = 3) -> tuple[OperatorProcess, int]:
    """The operator with its metrics endpoint on a free port, once that endpoint answers. A port taken between
    picking and binding it (the operator then waits a minute before trying again) means another port."""
    for _ in range(attempts):
        port = free_port()
        operator = OperatorProcess(
            kubeconfig, NAMESPACE, log, tick_interval_s=tick_s, extra_args=(f"--metrics-port={port}",)
        )
        operator.start()
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            try:
                await scrape_metrics(port)
            except OSError:
                await asyncio.sleep(0.25)
                continue
            return operator, port
        operator.stop()
    raise TimeoutError(f"the operator's metrics endpoint never answered ({attempts} ports tried); see {log}")


async def scrape_metrics(port: int) -> str:
    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    return await asyncio.to_thread(scrape)


async def operator_time_to_rollback(port: int, release: str) -> float | None:
    """The operator's graygate_time_to_rollback_seconds for one release (its sum: one rollback per release)."""
    try:
        text = await scrape_metrics(port)
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name != "graygate_time_to_rollback_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_sum") and sample.labels.get("release") == release:
                return float(sample.value)
    return None


async def delete_release(api: client.ApiClient, name: str, timeout_s: float = 30.0) -> None:
    """Delete a release and wait until it is gone and the route is back at stable 100 %."""
    custom = client.CustomObjectsApi(api)
    await asyncio.to_thread(custom.delete_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            await asyncio.to_thread(custom.get_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, name)
        except ApiException as error:
            if error.status != 404:
                raise
            if await asyncio.to_thread(weights, api, NAMESPACE, "app") == (100, 0):
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"release {name} still there, or its route not back at stable, after {timeout_s} s")


# --- the report -------------------------------------------------------------------------------------------------------

HEADER = (
    f"{'scenario':<9} {'run':>3} {'bad -> 0% canary':>17} {'failed reqs':>11} {'canary reqs':>11} "
    f"{'bad -> Failed':>13} {'operator':>9}  verdict"
)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def row(run: Run) -> str:
    operator = "-" if run.operator_s is None else f"{run.operator_s * 1000:.0f} ms"
    verdict = "PASS" if run.passed else f"FAIL ({run.phase}: {run.message[:80]})"
    return (
        f"{run.scenario:<9} {run.index:>3} {seconds(run.back_on_stable_s):>17} {run.failed:>11} "
        f"{run.served_by_canary:>11} {seconds(run.failed_phase_s):>13} {operator:>9}  {verdict}"
    )


def report(runs: Sequence[Run]) -> str:
    lines = [""]  # the rows were printed as the runs finished
    for scenario in SCENARIOS:
        mine = [run for run in runs if run.scenario == scenario.name]
        times = [run.back_on_stable_s for run in mine if run.back_on_stable_s is not None]
        failed = [run.failed for run in mine]
        operator = [run.operator_s for run in mine if run.operator_s is not None]
        if not mine:
            continue
        lines.append(
            f"median {scenario.name:<9}: users back on stable {seconds(statistics.median(times) if times else None)}, "
            f"{statistics.median(failed):.0f} failed requests, operator "
            f"{statistics.median(operator) * 1000 if operator else float('nan'):.0f} ms"
        )
    worst = max((run.back_on_stable_s for run in runs if run.back_on_stable_s is not None), default=None)
    lines.append(
        f"Flagger's floor for comparison: an analysis every >= {FLAGGER_FLOOR_S:.0f} s (shorter intervals are raised "
        "to 10 s), so a bad canary is first judged up to 10 s after it turns bad"
    )
    ok = bool(runs) and all(run.passed for run in runs)
    lines.append(f"{'PASS' if ok else 'FAIL'}: worst {seconds(worst)} against the {SLO_S:.0f} s budget")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
