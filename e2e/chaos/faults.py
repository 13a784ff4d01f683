"""The faults, one coroutine each, and what each one did: while the fleet keeps its releases in flight, a fault is
injected (its moments drawn from the seeded generator), ended, and given a settling window; its row is then
measured from the watcher's record, the runs that ended, and the lab's user requests in that window."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from e2e.chaos.fleet import ENDED, Cycler, Run
from e2e.chaos.moments import AIM_WEIGHTS, AIMS, Aim, Moments, progress_times, stalled_names
from e2e.chaos.proxies import GateTarget, NetworkMode, PrometheusProxy, TcpProxy
from e2e.chaos.watcher import Watcher
from e2e.lab import TrafficLab
from e2e.lab.loadgen import LoadGenerator
from graygate.sandbox import ControlPlane
from tests.cluster_support import OperatorProcess
from tests.etcd_server import Etcd


@dataclass(frozen=True)
class Timings:
    """How long each fault lasts; the short version in `make test` scales them down."""

    kills: int = 100
    kill_gap_s: tuple[float, float] = (0.5, 4.0)
    aim_timeout_s: float = 10.0
    apiserver_down_s: float = 5.0
    etcd_down_s: float = 5.0
    apiserver_restarts: int = 2
    prometheus_down_s: float = 60.0
    prometheus_slow_s: float = 20.0
    prometheus_garbage_s: float = 20.0
    hang_s: float = 20.0
    network_s: float = 10.0
    partition_s: float = 30.0
    app_etcd_down_s: float = 10.0
    settle_s: float = 10.0


@dataclass
class Chaos:
    """Everything a fault touches."""

    plane: ControlPlane
    operator: OperatorProcess
    watcher: Watcher
    moments: Moments
    lab: TrafficLab
    load: LoadGenerator
    target: GateTarget
    prometheus: PrometheusProxy
    network: TcpProxy
    app_etcd: Etcd | None
    cyclers: list[Cycler]
    runs: list[Run]
    rng: random.Random
    timings: Timings
    kills_by_aim: Counter[str] = field(default_factory=Counter)
    kill_recoveries: list[float] = field(default_factory=list)
    exits: int = 0
    """Times the operator exited by itself and was started again (see `supervise`)."""


@dataclass
class Row:
    fault: str
    injected: str
    outcomes: Counter[str]
    not_as_policy: list[str]
    held: int
    violations: list[str]
    recovery_s: str
    requests: int
    failed_requests: int


Fault = Callable[[Chaos], Awaitable[tuple[str, float, float]]]
"""Injects a fault; returns (what was injected, when it began, when it ended)."""


ROLLED_BACK_BY_POLICY = frozenset({"gate target hangs"})
"""Faults under which a run's rollback is its policy: an `httpProbe` with no answer fails (the canary must answer;
graygate.domain.analysis.http_probe), so a hanging probe target rolls a critical gate's release back."""


async def measure(chaos: Chaos, name: str, fault: Fault) -> Row:
    injected, began, ended = await fault(chaos)
    await asyncio.sleep(chaos.timings.settle_s)
    until = time.monotonic()
    violations = [str(v) for v in chaos.watcher.check()]
    finished = [run for run in chaos.runs if run.ended is not None and began <= run.ended <= until]
    for run in finished:
        violations.extend(run.problems)
    outcomes = Counter(str(run.phase) for run in finished)
    rolled_back_ok = name in ROLLED_BACK_BY_POLICY
    wrong = [
        f"{run.slot} #{run.number} {run.kind} ended {run.phase}"
        for run in finished
        if not run.as_policy_says and not (rolled_back_ok and run.phase == "Failed")
    ]
    held = stalled_names(chaos.watcher.seen, began, until)
    recovery = recovery_after(chaos, ended, held)
    window = chaos.load.result().between(began, until)
    return Row(name, injected, outcomes, wrong, len(held), violations, recovery, len(window.samples),
               len(window.failures()))  # fmt: skip


def recovery_after(chaos: Chaos, ended: float, held: set[str]) -> str:
    """Seconds from the fault's end until every release held during it moved again (any release when none was)."""
    moves = [(at, name) for at, name in progress_times(chaos.watcher.seen) if at >= ended]
    waiting = set(held)
    if not waiting:
        return f"{moves[0][0] - ended:.1f} s" if moves else "-"
    last = ended
    for at, name in moves:
        if name in waiting:
            waiting.discard(name)
            last = at
        if not waiting:
            return f"{last - ended:.1f} s"
    return f"{len(waiting)} never moved"


# --- the faults ------------------------------------------------------------------------------------------------------


async def kills(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    timings = chaos.timings
    for _ in range(timings.kills):
        aim: Aim = chaos.rng.choices(list(AIMS), weights=list(AIM_WEIGHTS))[0]
        # Each kill strikes an operator at work: after its first move since it was (re)started.
        await chaos.moments.next("step", 60.0)
        await asyncio.sleep(chaos.rng.uniform(*timings.kill_gap_s))
        if aim != "tick" and not await chaos.moments.next(aim, timings.aim_timeout_s):
            aim = "tick"
        chaos.operator.kill()
        restarted = time.monotonic()
        chaos.operator.start()
        chaos.kills_by_aim[aim] += 1
        chaos.kill_recoveries.append(restarted)
    aims = ", ".join(f"{count} {aim}" for aim, count in sorted(chaos.kills_by_aim.items()))
    return f"{timings.kills} SIGKILLs ({aims})", began, time.monotonic()


def kill_recovery(chaos: Chaos) -> str:
    """Median and worst seconds from a restart to the operator's first move of any release."""
    moves = [at for at, _ in progress_times(chaos.watcher.seen)]
    waits = [next((at - restarted for at in moves if at >= restarted), None) for restarted in chaos.kill_recoveries]
    known = [wait for wait in waits if wait is not None]
    if not known:
        return "-"
    return f"median {statistics.median(known):.1f} s, max {max(known):.1f} s"


async def apiserver_restarts(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    for index in range(chaos.timings.apiserver_restarts):
        if index:
            await asyncio.sleep(10)
        await asyncio.to_thread(chaos.plane.restart, "kube-apiserver", chaos.timings.apiserver_down_s, True)
    return f"kube-apiserver SIGKILLed and restarted x{chaos.timings.apiserver_restarts}", began, time.monotonic()


async def etcd_restart(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    await asyncio.to_thread(chaos.plane.restart, "etcd", chaos.timings.etcd_down_s, True)
    return f"the API server's etcd SIGKILLed, down {chaos.timings.etcd_down_s:.0f} s", began, time.monotonic()


async def network(chaos: Chaos) -> tuple[str, float, float]:
    began, timings, proxy = time.monotonic(), chaos.timings, chaos.network
    modes: tuple[NetworkMode, ...] = ("latency", "reset", "blackhole")
    for mode in modes:
        proxy.set_mode(mode)
        await asyncio.sleep(timings.network_s)
    proxy.set_mode("partition")
    await asyncio.sleep(timings.partition_s)
    proxy.set_mode("pass")
    injected = (
        f"operator <-> API server: {proxy.latency_s * 1000:.0f} ms latency, resets, black hole "
        f"({timings.network_s:.0f} s each), then a {timings.partition_s:.0f} s partition"
    )
    return injected, began, time.monotonic()


async def prometheus_down(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    await chaos.lab.prometheus_outage(chaos.timings.prometheus_down_s)
    return f"Prometheus stopped {chaos.timings.prometheus_down_s:.0f} s", began, time.monotonic()


async def prometheus_slow(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    chaos.prometheus.mode = "slow"
    await asyncio.sleep(chaos.timings.prometheus_slow_s)
    chaos.prometheus.mode = "pass"
    injected = f"Prometheus answering after {chaos.prometheus.delay_s:.0f} s (timeout 0.8 s) for "
    return injected + f"{chaos.timings.prometheus_slow_s:.0f} s", began, time.monotonic()


async def prometheus_garbage(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    chaos.prometheus.mode = "garbage"
    await asyncio.sleep(chaos.timings.prometheus_garbage_s)
    chaos.prometheus.mode = "pass"
    return f"Prometheus answering garbage {chaos.timings.prometheus_garbage_s:.0f} s", began, time.monotonic()


async def gate_hang(chaos: Chaos) -> tuple[str, float, float]:
    began = time.monotonic()
    chaos.target.set_hang(True)
    await asyncio.sleep(chaos.timings.hang_s)
    chaos.target.set_hang(False)
    return f"every probe target accepting, never answering, {chaos.timings.hang_s:.0f} s", began, time.monotonic()


def _config_cycler(chaos: Chaos) -> Cycler:
    return next(cycler for cycler in chaos.cyclers if cycler.slot.config)


async def _when(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def app_etcd(chaos: Chaos) -> tuple[str, float, float]:
    """Down while a release writes its keys (stopped as its run starts), then while one puts them back (stopped
    as its bad run reaches the step whose gate fails)."""
    assert chaos.app_etcd is not None
    began, cycler, etcd = time.monotonic(), _config_cycler(chaos), chaos.app_etcd
    done: list[str] = []
    for kind in ("good", "bad"):
        cycler.next_kind = kind
        first = cycler.current
        if not await _when(lambda: cycler.current is not first and cycler.current is not None, 300):  # noqa: B023
            continue
        run = cycler.current
        assert run is not None
        if kind == "bad" and not await _when(lambda: chaos.target.statuses.get(cycler.slot.name) == 500, 120):
            continue
        etcd.stop(grace_s=0)
        await asyncio.sleep(chaos.timings.app_etcd_down_s)
        await asyncio.to_thread(etcd.start)
        done.append("apply" if kind == "good" else "restore")
        await _when(lambda: run.ended is not None, 120)  # noqa: B023
    injected = f"the application's etcd SIGKILLed {chaos.timings.app_etcd_down_s:.0f} s during: {', '.join(done)}"
    return injected, began, time.monotonic()


FAULTS: Sequence[tuple[str, Fault]] = (
    ("SIGKILL operator", kills),
    ("kube-apiserver restart", apiserver_restarts),
    ("API server's etcd restart", etcd_restart),
    ("network degraded", network),
    ("Prometheus down", prometheus_down),
    ("Prometheus slow", prometheus_slow),
    ("Prometheus garbage", prometheus_garbage),
    ("gate target hangs", gate_hang),
    ("app etcd down", app_etcd),
)


def ended_runs(runs: Sequence[Run]) -> Counter[str]:
    return Counter(str(run.phase) for run in runs if run.phase in ENDED)
