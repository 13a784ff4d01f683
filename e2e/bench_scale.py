"""Does one operator keep up with a thousand releases? `python -m e2e.bench_scale` (or `make bench-scale`).

Why: the goals at 1,000 releases on one operator are about size: RSS <= 250 MiB, CPU <= 0.3 core, steps written
within 1 s of being due (p99), a bad canary rolled back within 1.5 x the time it takes alone, and an API server load
that follows change, not size (at rest at most one request per minute per 100 releases). For each size (100, 1,000,
3,000 by default; `--releases`) this starts a fresh sandbox (etcd, kube-apiserver with an audit log,
kube-controller-manager, kube-scheduler and kwok; no istiod, no traffic lab) and `graygate run` as a child process,
then:

1. a bad canary alone: a release at 10 % whose probe gate (every 1 s, `failureLimit: 0`) calls a local server
   that starts answering 500; seconds from the switch to its VirtualService read back at 0 % canary;
2. N releases, each with its VirtualService and a one-replica canary Deployment (kwok fakes the pod), in the mix
   of a fleet: 10 % moving (24 weights, each followed by a 15 to 30 s timed pause), 40 % waiting at 10 % with a probe
   gate every 10 s against a local server answering in 100 ms (a one-hour pause), 40 % paused for good
   (`pause: {}`, no gate), 10 % finished (promoted in two steps);
3. once they are settled (bounded), a steady window: operator CPU (utime + stime from /proc/<pid>/stat over the
   window, in cores); RSS is sampled every second over the whole size (max VmRSS);
4. the same bad canary among the N (`bad-loaded`, one of the waiting releases), measured as in 1; the ratio.

Then it stops the operator and the sandbox and reads the audit log (kube-apiserver `--audit-log-path`, Metadata
level; `ControlPlaneSettings.audit_log`), keeping the requests whose user agent is the operator's (`kopf/…` for its
Kopf session, `OpenAPI-Generator/…` for the kubernetes client; the bench's client says `graygate-bench`):
- step delay: for every timed pause of a moving release that fell due after the steady window began, due = the
  history entry's time when the pause began (the operator's `stepStartedAt`, same tick clock) + its duration;
  written = the completion time (the API server's clock) of the operator's first write to the release's
  VirtualService at or after due. p99 over those steps; a step due with no write yet counts as late until the end;
- API load in the steady window, per verb; at rest: requests for paused-for-good and finished releases plus every
  request for no one release (lists, watches), per minute per 100 releases at rest; and writes per step: the
  operator's writes for moving releases / the plan steps they entered in the window (history entries).

The bad canary is not a traffic-lab canary (real Envoy traffic through istiod): it is driven by an httpProbe gate
against a local failing server, so this bench needs no lab; a lab variant is not written yet.

Bounded: a total budget (`--budget`, 25 min) and one per size; every wait and loop is bounded in count and time;
every process is stopped on the way out, on error and on Ctrl-C. Exit 1 when a goal is missed at a size up to
1,000 releases (the goals are stated for 1,000; larger sizes are reported) or a size could not be measured.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from e2e import scale_figures as sf
from e2e.scale_process import ProbeServer, RssSampler, cpu_seconds
from e2e.scale_report import audit_figures, report, settled_counts
from graygate.sandbox import ControlPlane, ControlPlaneSettings
from tests.cluster_support import OperatorProcess, virtual_service
from tests.virtual_services import destination_rule

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
GROUP, VERSION, PLURAL = "graygate.dev", "v1alpha1", "canaryreleases"
SIZE_BUDGET_S = {100: 240.0, 1000: 480.0, 3000: 780.0}
"""Each size's bound; a size not listed gets 120 s + 0.25 s per release."""


class OutOfTime(Exception):
    pass


@dataclass
class Clock:
    """A deadline every wait is cut to."""

    ends: float

    def left(self) -> float:
        return self.ends - time.monotonic()

    def cut(self, timeout_s: float) -> float:
        return max(0.0, min(timeout_s, self.left()))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", default="100,1000,3000", help="sizes, comma-separated (default 100,1000,3000)")
    parser.add_argument("--window", type=float, default=60.0, help="the steady window in seconds (default 60)")
    parser.add_argument("--budget", type=float, default=25 * 60, help="total seconds for all sizes (default 1500)")
    parser.add_argument("--tick", type=float, default=1.0, help="the operator's --tick-interval (default 1, its own)")
    parser.add_argument(
        "--replicas", type=int, default=1, help="replicas per canary Deployment (default 1; 0: no pods)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, audit log) afterwards")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(part) for part in args.releases.split(",") if part.strip()]
    except ValueError:
        parser.error("--releases takes numbers, e.g. 100,1000")
    if not args.sizes or any(not 10 <= n <= 5000 for n in args.sizes):
        parser.error("each size must be between 10 and 5000")
    if not 10 <= args.window <= 600:
        parser.error("--window must be between 10 and 600")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="graygate-bench-scale-"))
    total = Clock(time.monotonic() + args.budget)
    probe = ProbeServer()
    print(settings_line(args), flush=True)
    results: list[sf.Figures] = []
    try:
        for size in args.sizes:
            bound = SIZE_BUDGET_S.get(size, 120.0 + 0.25 * size)
            clock = Clock(min(total.ends, time.monotonic() + bound))
            if clock.left() < 60:
                figures = sf.Figures(releases=size, notes=["not run: the total budget was spent"])
            else:
                print(f"\n== {size:,} releases (bound {clock.left():.0f} s)", flush=True)
                figures = measure_size(size, args, workdir / f"n{size}", probe, clock)
            results.append(figures)
            for note in figures.notes:
                print(f"  note: {note}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    finally:
        probe.close()
    print("\n" + report(results, args))
    missed = sf.missed(results)
    unmeasured = [f.releases for f in results if sf.checked(f) and f.notes and f.api is None]
    if args.keep or missed or unmeasured:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if missed or unmeasured else 0


def settings_line(args: argparse.Namespace) -> str:
    return (
        f"bench-scale: {os.cpu_count()} cores, sizes {', '.join(f'{n:,}' for n in args.sizes)}, operator tick "
        f"{args.tick:g} s, steady window {args.window:g} s, {args.replicas} replica(s) per canary Deployment, "
        f"budget {args.budget:.0f} s"
    )


# --- one size -----------------------------------------------------------------------------------------------------


def measure_size(size: int, args: argparse.Namespace, workdir: Path, probe: ProbeServer, clock: Clock) -> sf.Figures:
    workdir.mkdir(parents=True, exist_ok=True)
    audit = workdir / "audit.log"
    figures = sf.Figures(releases=size)
    settings = ControlPlaneSettings(
        workdir=workdir / "sandbox",
        workloads=True,
        istiod=False,
        audit_log=audit,
        controller_qps=200,
        crd_files=(REPO / "crds" / "canaryreleases.graygate.dev.yaml",),
    )
    found: dict[str, Any] = {}
    probe.reset()
    try:
        with ControlPlane(settings) as plane:
            print(f"  sandbox up in {plane.startup_seconds:.1f} s", flush=True)
            api: client.ApiClient = config.new_client_from_config(config_file=str(plane.kubeconfig))  # type: ignore[no-untyped-call]
            api.user_agent = sf.BENCH_AGENT
            with api:
                drive(api, plane.kubeconfig, size, args, workdir, probe, clock, figures, found)
    except OutOfTime as error:
        figures.notes.append(f"out of time: {error}")
    except ApiException as error:
        figures.notes.append(f"could not measure: the API server answered {error.status}: {str(error.body)[:400]}")
    except (TimeoutError, OSError, AssertionError) as error:
        figures.notes.append(f"could not measure: {str(error)[:400]}")
    if "window" in found and audit.exists():
        audit_figures(figures, audit, found["window"], found.get("releases", []))
    # Printed as each size ends, so a run cut short (Ctrl-C, a kill) still leaves every figure of the sizes done.
    print("  " + "; ".join(f"{g.name} {sf.value_text(g.value, g.unit)}" for g in sf.goals(figures)), flush=True)
    return figures


def drive(
    api: client.ApiClient,
    kubeconfig: Path,
    size: int,
    args: argparse.Namespace,
    workdir: Path,
    probe: ProbeServer,
    clock: Clock,
    figures: sf.Figures,
    found: dict[str, Any],
) -> None:
    """Measures into `figures`; `found` gets the steady window (epoch seconds) and, at the end, the releases as
    listed, also when a later stage ran out of time."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    custom.create_namespaced_custom_object(
        "networking.istio.io", "v1", NAMESPACE, "destinationrules", destination_rule()
    )
    operator = OperatorProcess(kubeconfig, NAMESPACE, workdir / "operator.log", tick_interval_s=args.tick)
    operator.start()
    assert operator.popen is not None
    sampler = RssSampler(operator.popen.pid)
    sampler.start()
    try:
        create_release(api, "bad-alone", probe.base, args.replicas)
        figures.rollback_alone_s = bad_canary(api, "bad-alone", probe, clock)
        print(f"  bad canary alone: back on stable in {sf.value_text(figures.rollback_alone_s, 's')}", flush=True)

        names = sf.names(sf.mix(size))
        began = time.monotonic()
        create_all(api, names, probe.base, args.replicas, clock)
        print(f"  {size:,} releases created in {time.monotonic() - began:.0f} s", flush=True)
        figures.settled, figures.unsettled = wait_settled(custom, sf.mix(size), clock)
        print(f"  settled: {figures.settled}", flush=True)

        start = time.time()
        cpu_before, wall_before = cpu_seconds(operator.popen.pid), time.monotonic()
        sleep_bounded(args.window, clock, "the steady window")
        figures.cpu_cores = (cpu_seconds(operator.popen.pid) - cpu_before) / (time.monotonic() - wall_before)
        found["window"] = (start, time.time())
        print(f"  steady window: {sf.value_text(figures.cpu_cores, 'cores')}", flush=True)

        try:
            figures.rollback_loaded_s = bad_canary(api, "bad-loaded", probe, clock)
        except OutOfTime as error:
            figures.notes.append(f"bad canary among them not measured: {error}")
        print(f"  bad canary among them: back on stable in {sf.value_text(figures.rollback_loaded_s, 's')}", flush=True)
    finally:
        if "window" in found:
            try:
                listed: dict[str, Any] = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)  # type: ignore[assignment]
                found["releases"] = list(listed["items"])
            except (ApiException, OSError) as error:
                figures.notes.append(f"releases not listed at the end: {error}")
        figures.rss_max_mib = sampler.stop()
        operator.stop()


def create_release(api: client.ApiClient, name: str, probe_base: str, replicas: int) -> None:
    custom, apps = client.CustomObjectsApi(api), client.AppsV1Api(api)
    apps.create_namespaced_deployment(NAMESPACE, deployment(f"{name}-canary", replicas))
    custom.create_namespaced_custom_object(
        "networking.istio.io", "v1", NAMESPACE, "virtualservices", virtual_service(name)
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, sf.release_body(name, probe_base))


def create_all(api: client.ApiClient, names: Sequence[str], probe_base: str, replicas: int, clock: Clock) -> None:
    """Every release, 6 at a time, bounded by the size's clock."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(create_release, api, name, probe_base, replicas) for name in names]
        done, pending = concurrent.futures.wait(futures, timeout=clock.cut(clock.left() - 60))
        for future in pending:
            future.cancel()
        if pending:
            raise OutOfTime(f"{len(pending)} of {len(names)} releases not created in time")
        for future in done:
            future.result()


def deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="app:2")]),
            ),
        ),
    )


def wait_settled(custom: client.CustomObjectsApi, mix: sf.Mix, clock: Clock) -> tuple[str, int]:
    """Until the finished are Succeeded, the paused Paused, the waiting at 10 % with a first verdict and the moving
    past their first step; bounded (60 s + 0.1 s per release, cut to the clock), then measured as they are."""
    deadline = time.monotonic() + clock.cut(min(60 + 0.1 * mix.total, clock.left() - 2 * 60))
    text, unsettled = "not read", mix.total
    for _ in range(10_000):
        listed: dict[str, Any] = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)  # type: ignore[assignment]
        counts = settled_counts(listed["items"])
        want = {sf.FINISHED: mix.finished, sf.PAUSED: mix.paused, sf.WAITING: mix.waiting - 1, sf.MOVING: mix.moving}
        text = ", ".join(f"{kind} {counts.get(kind, 0)}/{n}" for kind, n in want.items())
        unsettled = sum(max(0, n - counts.get(kind, 0)) for kind, n in want.items())
        if not unsettled:
            return f"all ({text})", 0
        if time.monotonic() >= deadline:
            return f"not all in time ({text})", unsettled
        time.sleep(5.0)
    return f"not all ({text})", unsettled


def bad_canary(api: client.ApiClient, name: str, probe: ProbeServer, clock: Clock) -> float | None:
    """Wait until the release is at 10 % with a passing probe, then turn its probe target bad: seconds until its
    VirtualService reads 0 % canary (polled every 0.1 s, at most 60 s)."""
    custom = client.CustomObjectsApi(api)
    deadline = time.monotonic() + clock.cut(120)
    for _ in range(2_000):
        release: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)  # type: ignore[assignment]
        status = release.get("status") or {}
        if canary_weight(custom, name) == 10 and status.get("lastVerdict") == "Pass":
            break
        if time.monotonic() >= deadline:
            raise OutOfTime(f"{name} never reached 10 % with a passing probe")
        time.sleep(0.5)
    probe.fail(name)
    bad_at = time.monotonic()
    deadline = bad_at + clock.cut(60)
    for _ in range(1_000):
        if canary_weight(custom, name) == 0:
            return time.monotonic() - bad_at
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
    return None


def canary_weight(custom: client.CustomObjectsApi, name: str) -> int | None:
    vs: dict[str, Any] = custom.get_namespaced_custom_object(
        "networking.istio.io", "v1", NAMESPACE, "virtualservices", name
    )  # type: ignore[assignment]
    for http in vs["spec"].get("http", []):
        if http.get("name") == "primary":
            for destination in http.get("route", []):
                if destination["destination"].get("subset") == "canary":
                    return int(destination.get("weight", 0))
    return None


def sleep_bounded(seconds: float, clock: Clock, what: str) -> None:
    if clock.left() < seconds + 30:
        raise OutOfTime(f"no time left for {what}")
    time.sleep(seconds)


if __name__ == "__main__":
    sys.exit(main())
