"""What do releases do when everything around them breaks? `python -m e2e.bench_chaos` (or `make bench-chaos`).

Why: "restart-safe" and "holds when it cannot measure" are claims about every moment, not the few a test picks.
This brings up the sandbox (kube-apiserver, its etcd, istiod), the traffic lab (Envoy configured by istiod, backends,
Prometheus) with users sending requests throughout, an application etcd, and the operator as a child process that
reaches the API server through a fault-injecting TCP proxy. Twenty releases are kept in flight (good ones, bad ones
that must roll back, ones promoted with `promote-full`, ones aborted), one after the other in each slot. Then, one
after the other: SIGKILLs of the operator at random moments (some aimed at a rollback, a promotion, a step, a config
restore), the kube-apiserver restarted, its etcd restarted, the operator's network degraded and partitioned,
Prometheus down, slow and answering garbage, every gate target hanging, the application's etcd down while a release
writes its keys and while one puts them back.

An independent watcher (e2e/chaos/watcher.py) follows every VirtualService and CanaryRelease version through the
API server's watch and checks the invariants (e2e/chaos/invariants.py); every run is checked at its end (routes and
etcd key as its phase says) and against its kind (a good run Succeeds, a bad one Fails, ...). It prints a row per
fault and exits 1 on any violation or any run that did not end as its policy says. The seed is printed; `--seed`
replays the same draws (kinds of runs, kill moments and intervals; the machine's timing still varies).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubernetes import client, config

from e2e.chaos.faults import FAULTS, Chaos, Row, Timings, kill_recovery, measure
from e2e.chaos.fleet import Cycler, Run, Slot, Surroundings, create_routes
from e2e.chaos.moments import Moments
from e2e.chaos.proxies import GateTarget, PrometheusProxy, TcpProxy
from e2e.chaos.watcher import Seen, Watcher
from e2e.lab import TrafficLab
from e2e.support import istio_mesh
from graygate.sandbox import ControlPlane, ControlPlaneSettings
from graygate.store.etcd.store import EtcdStore
from tests.cluster_support import OperatorProcess
from tests.etcd_server import Etcd

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "chaos"
SHORT = Timings(
    kills=3, kill_gap_s=(0.5, 2.0), aim_timeout_s=4.0, apiserver_down_s=2.0, etcd_down_s=2.0, apiserver_restarts=1,
    prometheus_down_s=6.0, prometheus_slow_s=4.0, prometheus_garbage_s=4.0, hang_s=4.0, network_s=2.0,
    partition_s=6.0, app_etcd_down_s=3.0, settle_s=4.0,
)  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="replay the draws of an earlier run")
    parser.add_argument("--releases", type=int, default=20, help="releases in flight (default 20)")
    parser.add_argument("--kills", type=int, default=None, help="operator SIGKILLs (default 100; 3 with --short)")
    parser.add_argument("--short", action="store_true", help="every fault, briefly (the version `make test` runs)")
    parser.add_argument("--faults", default="", help="only these faults (comma-separated, by their first word)")
    parser.add_argument("--budget", type=float, default=2700.0, help="seconds the whole bench may take")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) after a clean run")
    args = parser.parse_args(argv)
    if not 3 <= args.releases <= 40:
        parser.error("--releases must be between 3 and 40")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    timings = SHORT if args.short else Timings()
    if args.kills is not None:
        timings = replace(timings, kills=args.kills)
    workdir = Path(tempfile.mkdtemp(prefix="graygate-chaos-"))
    print(f"bench-chaos: seed {seed}, {args.releases} releases, {timings.kills} kills (replay: --seed {seed})")
    settings = ControlPlaneSettings(crd_files=(REPO / "crds" / "canaryreleases.graygate.dev.yaml",))
    try:
        with ControlPlane(settings) as plane:
            print(f"sandbox up in {plane.startup_seconds:.1f} s", flush=True)
            rows, runs = asyncio.run(asyncio.wait_for(bench(plane, args, timings, seed, workdir), args.budget))
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    except Exception as error:  # the bench could not measure: say so, keep the logs, fail
        print(f"FAIL: the bench could not measure: {type(error).__name__}: {error}\nlogs kept in {workdir}",
              file=sys.stderr)  # fmt: skip
        return 1
    ok = all(not row.violations and not row.not_as_policy for row in rows)
    violations, wrong = sum(len(r.violations) for r in rows), sum(len(r.not_as_policy) for r in rows)
    print(f"{'PASS' if ok else 'FAIL'}: {violations} violations, {wrong} runs not ended as their policy says, "
          f"{len(runs)} runs")  # fmt: skip
    if ok and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}")
    return 0 if ok else 1


def proxied_kubeconfig(plane: ControlPlane, port: int, path: Path) -> Path:
    path.write_text(plane.kubeconfig.read_text().replace(plane.server, f"https://127.0.0.1:{port}"))
    return path


async def bench(
    plane: ControlPlane, args: argparse.Namespace, timings: Timings, seed: int, workdir: Path
) -> tuple[list[Row], list[Run]]:
    rng = random.Random(seed)
    api: client.ApiClient = config.new_client_from_config(config_file=str(plane.kubeconfig))  # type: ignore[no-untyped-call]
    await asyncio.to_thread(
        client.CoreV1Api(api).create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
    )
    slots = [Slot(i, prometheus=i < 3, config=i >= args.releases - 2) for i in range(args.releases)]
    for slot in slots:
        await create_routes(api, NAMESPACE, slot, with_vs=True)
    latest: dict[tuple[str, str], dict[str, Any]] = {}

    def follow(seen: Seen) -> None:
        key = (seen.kind, seen.body["metadata"]["name"])
        if seen.event == "DELETED":
            latest.pop(key, None)
        else:
            latest[key] = seen.body

    moments = Moments(asyncio.get_running_loop())
    watcher = Watcher(plane.kubeconfig, NAMESPACE, listeners=[follow, moments])
    watcher.start()
    app_etcd = Etcd(workdir / "app-etcd")
    await asyncio.to_thread(app_etcd.start)
    store = EtcdStore(app_etcd.settings())
    network = TcpProxy(int(plane.server.rsplit(":", 1)[1]))
    await network.start()
    operator = OperatorProcess(
        proxied_kubeconfig(plane, network.port, workdir / "kubeconfig-via-proxy"), NAMESPACE, workdir / "operator.log"
    )
    target = GateTarget()
    await target.start()
    lab = TrafficLab(prometheus=True, namespace=NAMESPACE, workdir=workdir / "lab", keep_workdir=args.keep,
                     mesh=istio_mesh(plane))  # fmt: skip
    tasks: list[asyncio.Task[None]] = []
    try:
        async with lab:
            await lab.prometheus.wait_targets_up()
            prometheus = PrometheusProxy(lab.prometheus_url)
            await prometheus.start()
            load = lab.load(rate_per_s=20, max_requests=20 * int(args.budget), max_duration_s=args.budget)
            load.start()
            operator.start()
            env = Surroundings(api, NAMESPACE, latest, target.statuses, f"http://127.0.0.1:{target.port}",
                               prometheus.url, app_etcd.endpoint, store)  # fmt: skip
            runs: list[Run] = []
            cyclers = [Cycler(slot, env, random.Random(rng.random()), runs) for slot in slots]
            tasks = [asyncio.create_task(c.cycle(), name=f"cycle {c.slot.name}") for c in cyclers]
            chaos = Chaos(plane, operator, watcher, moments, lab, load, target, prometheus, network, app_etcd,
                          cyclers, runs, rng, timings)  # fmt: skip
            tasks.append(asyncio.create_task(supervise(chaos), name="supervisor"))
            rows = await run_faults(chaos, args, tasks)
            for cycler in cyclers:
                cycler.stopping.set()
            drained = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*tasks[: len(cyclers)]), 300)
            rows.append(await drain_row(chaos, drained))
            await load.stop()
            await prometheus.stop()
            return rows, runs
    finally:
        for task in tasks:
            task.cancel()
        operator.stop()
        watcher.stop()
        await target.stop()
        await network.stop()
        await store.aclose()
        app_etcd.stop()


async def supervise(chaos: Chaos) -> None:
    """As the kubelet would: an operator that exited on its own is started again (and counted)."""
    while True:
        popen = chaos.operator.popen
        if popen is not None and popen.poll() is not None:
            chaos.exits += 1
            print(f"  the operator exited by itself (code {popen.returncode}); started again", flush=True)
            chaos.operator.start()
        await asyncio.sleep(1.0)


async def run_faults(chaos: Chaos, args: argparse.Namespace, tasks: list[asyncio.Task[None]]) -> list[Row]:
    chosen = {name.strip().lower() for name in args.faults.split(",") if name.strip()}
    began = time.monotonic()
    await asyncio.sleep(chaos.timings.settle_s * 2)
    warmup = await measure(chaos, "none (warm-up)", lambda c: _nothing(began))
    print(HEADER, flush=True)
    print(format_row(warmup), flush=True)
    rows = [warmup]
    for name, fault in FAULTS:
        if chosen and name.split()[0].lower() not in chosen:
            continue
        for task in tasks:
            if task.done():
                task.result()  # a cycler's own failure stops the bench, named
        row = await measure(chaos, name, fault)
        if name.startswith("SIGKILL"):
            row.recovery_s = kill_recovery(chaos)
        print(format_row(row), flush=True)
        rows.append(row)
    return rows


async def _nothing(began: float) -> tuple[str, float, float]:
    return "nothing", began, time.monotonic()


async def drain_row(chaos: Chaos, began: float) -> Row:
    row = await measure(chaos, "drain (no new runs)", lambda c: _nothing(began))
    print(format_row(row), flush=True)
    print(f"watcher: {chaos.watcher.checker.versions_checked} versions checked, {chaos.watcher.gaps} gaps, "
          f"{chaos.watcher.reconnects} reconnects; the operator exited by itself {chaos.exits} time(s)")  # fmt: skip
    return row


HEADER = (
    f"{'fault':<26} {'runs ended S/F/A':>16} {'not as policy':>13} {'held':>4} {'violations':>10} "
    f"{'recovery':>26} {'user reqs failed':>16}  injected"
)


def format_row(row: Row) -> str:
    ended = "/".join(str(row.outcomes.get(phase, 0)) for phase in ("Succeeded", "Failed", "Aborted"))
    lines = [
        f"{row.fault:<26} {ended:>16} {len(row.not_as_policy):>13} {row.held:>4} {len(row.violations):>10} "
        f"{row.recovery_s:>26} {f'{row.failed_requests}/{row.requests}':>16}  {row.injected}"
    ]
    lines.extend(f"    ! {problem}" for problem in row.violations + row.not_as_policy)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
