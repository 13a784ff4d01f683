"""The pure parts of `make bench-scale` (e2e/bench_scale.py): the release mix, percentiles, the API server's audit
log read and counted by user agent, the step delays and the goals. No I/O beyond iterating lines given to it, so the
unit tests (tests/unit/test_bench_scale.py) run in milliseconds.

Release names carry their kind (`mv-`, `gw-`, `pz-`, `fin-`, `bad-`), so an audit event's object name tells which
release, and which kind of release, a request was for: VirtualService and CanaryRelease `<release>`, Deployment
`<release>-canary`, Event `<release>.<suffix>`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MOVING, WAITING, PAUSED, FINISHED, BAD = "mv", "gw", "pz", "fin", "bad"
KINDS = (MOVING, WAITING, PAUSED, FINISHED, BAD)
AT_REST = (PAUSED, FINISHED)
"""Kinds with nothing due: paused for good with no gates, or promoted. A bad canary, once rolled back, too."""
OPERATOR_AGENTS = ("kopf/", "OpenAPI-Generator/")
"""The operator's user agents: Kopf's own session (watches, status patches, Events) and the kubernetes client it
calls for routes and workloads. The bench's own client says `graygate-bench`; the sandbox's controllers name
themselves (kube-controller-manager/…, kube-scheduler/…, kwok/…)."""
BENCH_AGENT = "graygate-bench"
WRITE_VERBS = ("create", "update", "patch", "delete")
MOVING_STEPS = 24
"""A moving release's weights: 24 setWeight steps (4 %, 8 % … 96 %), each followed by a timed pause."""


@dataclass(frozen=True)
class Mix:
    moving: int
    waiting: int
    paused: int
    finished: int

    @property
    def total(self) -> int:
        return self.moving + self.waiting + self.paused + self.finished


def mix(releases: int) -> Mix:
    """10 % moving, 10 % finished, the 80 % between split in two halves: waiting at a weight with a probe gate
    (timed pause of an hour), and paused for good (`pause: {}`, no gates). The bad canary is one of the waiting."""
    if releases < 10:
        raise ValueError("at least 10 releases")
    moving = finished = releases // 10
    waiting = (releases - moving - finished) // 2
    return Mix(moving=moving, waiting=waiting, paused=releases - moving - finished - waiting, finished=finished)


def names(of: Mix) -> list[str]:
    """The releases' names, interleaved (creation order mixes the kinds, as a cluster would). The first waiting
    release is replaced by the bad canary `bad-loaded`."""
    queues = {
        MOVING: [f"{MOVING}-{i:05d}" for i in range(of.moving)],
        WAITING: ["bad-loaded"] + [f"{WAITING}-{i:05d}" for i in range(1, of.waiting)],
        PAUSED: [f"{PAUSED}-{i:05d}" for i in range(of.paused)],
        FINISHED: [f"{FINISHED}-{i:05d}" for i in range(of.finished)],
    }
    out: list[str] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                out.append(queue.pop(0))
    return out


def kind_of(release: str) -> str:
    prefix = release.split("-", 1)[0]
    return prefix if prefix in KINDS else ""


def pause_seconds(release: str) -> int:
    """A moving release's pause length: 15 to 30 s, spread by name so the steps fall due at different times."""
    return 15 + int(release.rsplit("-", 1)[-1]) % 16 if kind_of(release) == MOVING else 0


def release_body(release: str, probe_base: str) -> dict[str, Any]:
    """The CanaryRelease of each kind: its VirtualService and its canary Deployment are named after it."""
    kind = kind_of(release)
    steps: list[dict[str, Any]]
    analysis: dict[str, Any] = {}
    if kind == MOVING:
        pause = f"{pause_seconds(release)}s"
        steps = []
        for weight in range(4, 4 * MOVING_STEPS + 1, 4):
            steps += [{"setWeight": weight}, {"pause": {"duration": pause}}]
        steps.append({"setWeight": 100})
    elif kind == FINISHED:
        steps = [{"setWeight": 50}, {"setWeight": 100}]
    elif kind == PAUSED:
        steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 100}]
    else:
        path = "/slow" if kind == WAITING else f"/{release}"
        steps = [{"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 100}]
        timeout = "2s" if kind == WAITING else "500ms"
        gate = {"name": "health", "httpProbe": {"url": probe_base + path, "expectStatus": [200], "timeout": timeout}}
        analysis = {"interval": "10s" if kind == WAITING else "1s", "gates": [gate]}
        if kind == BAD:
            analysis["failureLimit"] = 0
    spec: dict[str, Any] = {
        "trafficRouting": {"istio": {"virtualServices": [{"name": release, "routes": ["primary"]}]}},
        "stable": {"host": "checkout", "subset": "stable", "port": 8080},
        "canary": {"host": "checkout", "subset": "canary", "port": 8080},
        "canaryWorkload": {"name": f"{release}-canary"},
        "steps": steps,
    }
    if analysis:
        spec["analysis"] = analysis
    return {"apiVersion": "graygate.dev/v1alpha1", "kind": "CanaryRelease", "metadata": {"name": release}, "spec": spec}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def timestamp(text: str) -> float:
    """An RFC 3339 time (the audit log's microseconds, or a status' seconds) as seconds since the epoch."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- the audit log ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One finished request, from one audit event (stage ResponseComplete)."""

    verb: str
    agent: str
    resource: str
    name: str
    received: float
    completed: float
    code: int


def read_audit(lines: Iterable[str], agents: Sequence[str] = OPERATOR_AGENTS) -> list[Request]:
    """The finished requests whose user agent starts with one of `agents`; other lines (other clients, other
    stages, a torn last line) are skipped."""
    found: list[Request] = []
    for line in lines:
        if not any(f'"userAgent":"{agent}' in line for agent in agents):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("stage") != "ResponseComplete":
            continue
        agent = str(event.get("userAgent", ""))
        if not agent.startswith(tuple(agents)):
            continue
        ref = event.get("objectRef") or {}
        resource = str(ref.get("resource", ""))
        if ref.get("subresource"):
            resource += "/" + str(ref["subresource"])
        found.append(
            Request(
                verb=str(event.get("verb", "")),
                agent=agent,
                resource=resource,
                name=str(ref.get("name", "")),
                received=timestamp(event["requestReceivedTimestamp"]),
                completed=timestamp(event["stageTimestamp"]),
                code=int((event.get("responseStatus") or {}).get("code", 0)),
            )
        )
    return found


def release_of(request: Request) -> str:
    """The release a request was for, from its object's name, or "" (a list, a watch, a cluster-wide read)."""
    if not request.name:
        return ""
    if request.resource == "events":
        return request.name.split(".", 1)[0]
    if request.resource.startswith("deployments"):
        return request.name.removesuffix("-canary")
    return request.name


def in_window(requests: Iterable[Request], start: float, end: float) -> list[Request]:
    return [r for r in requests if start <= r.received < end]


def count_by_verb(requests: Iterable[Request]) -> dict[str, int]:
    return dict(sorted(Counter(r.verb for r in requests).items()))


@dataclass(frozen=True)
class ApiLoad:
    window_s: float
    by_verb: dict[str, int]
    """Every operator request in the window, per verb."""
    at_rest: int
    """Requests for releases at rest, plus every request for no one release (lists, watches), in the window."""
    at_rest_releases: int
    moving_writes: int
    moving_steps: int

    @property
    def rest_per_min_per_100(self) -> float:
        if not self.at_rest_releases or not self.window_s:
            return math.inf
        return self.at_rest / (self.window_s / 60) / (self.at_rest_releases / 100)

    @property
    def writes_per_step(self) -> float | None:
        return self.moving_writes / self.moving_steps if self.moving_steps else None


def api_load(requests: Sequence[Request], start: float, end: float, rest_releases: int, steps: int) -> ApiLoad:
    """The operator's requests in [start, end): per verb; those at rest (releases of AT_REST kinds, and the ones
    for no release, charged to the rest as the conservative reading); and the writes for moving releases, to be
    divided by the steps they made in the window."""
    window = in_window(requests, start, end)
    rest = [r for r in window if (owner := release_of(r)) == "" or kind_of(owner) in AT_REST]
    moving_writes = [r for r in window if r.verb in WRITE_VERBS and kind_of(release_of(r)) == MOVING]
    return ApiLoad(
        window_s=end - start,
        by_verb=count_by_verb(window),
        at_rest=len(rest),
        at_rest_releases=rest_releases,
        moving_writes=len(moving_writes),
        moving_steps=steps,
    )


# --- step delays --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    release: str
    step: int
    """The 0-based index of the timed pause that ends."""
    at: float


def pauses_due(
    release: str, history: Sequence[Mapping[str, Any]], spec_steps: Sequence[Mapping[str, Any]]
) -> list[Due]:
    """When each timed pause the history shows entered falls due: the entry's time (the operator's `stepStartedAt`,
    the same tick's clock) plus the pause's duration."""
    found: list[Due] = []
    for entry in history:
        index = int(entry.get("step", -1))
        if not 0 <= index < len(spec_steps):
            continue
        pause = spec_steps[index].get("pause")
        if not isinstance(pause, Mapping) or not pause.get("duration"):
            continue
        seconds = duration_seconds(str(pause["duration"]))
        found.append(Due(release=release, step=index, at=timestamp(str(entry["at"])) + seconds))
    return found


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * units[unit]
    raise ValueError(f"cannot read the duration {text!r}")


def step_delays(dues: Iterable[Due], route_writes: Mapping[str, Sequence[float]], until: float) -> list[float]:
    """For each due step: seconds from due to the first write of the release's route completed at or after it
    (the API server's own clock, from the audit log). A step due before `until` with no write yet counts as
    `until - due` (late by at least that), so a stuck operator cannot look punctual."""
    delays: list[float] = []
    for due in dues:
        if due.at >= until:
            continue
        writes = sorted(w for w in route_writes.get(due.release, ()) if w >= due.at)
        delays.append((writes[0] if writes else until) - due.at)
    return delays


def route_writes(requests: Iterable[Request]) -> dict[str, list[float]]:
    """Completion times of the operator's writes to each release's VirtualService."""
    writes: dict[str, list[float]] = {}
    for r in requests:
        if r.resource == "virtualservices" and r.verb in ("update", "patch") and 200 <= r.code < 300:
            writes.setdefault(r.name, []).append(r.completed)
    return writes


# --- goals --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    name: str
    value: float | None
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.value is not None and self.value <= self.limit


@dataclass
class Figures:
    """What one size measured."""

    releases: int
    settled: str = ""
    unsettled: int | None = None
    """Releases not yet where the mix puts them when the steady window began (bounded wait)."""
    rss_max_mib: float | None = None
    cpu_cores: float | None = None
    step_p99_s: float | None = None
    steps_measured: int = 0
    rollback_alone_s: float | None = None
    rollback_loaded_s: float | None = None
    api: ApiLoad | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rollback_ratio(self) -> float | None:
        if self.rollback_alone_s is None or self.rollback_loaded_s is None or self.rollback_alone_s <= 0:
            return None
        return self.rollback_loaded_s / self.rollback_alone_s


GOAL_SIZE = 1000
"""The goals are stated for 1,000 releases on one operator (a larger fleet runs more shards); they are checked up to
that size, larger ones are reported."""


def goals(figures: Figures) -> list[Goal]:
    api = figures.api
    return [
        Goal("releases not settled before the window", None if figures.unsettled is None else figures.unsettled, 0, ""),
        Goal("operator RSS max", figures.rss_max_mib, 250.0, "MiB"),
        Goal("operator CPU average", figures.cpu_cores, 0.3, "cores"),
        Goal("step due -> weights written p99", figures.step_p99_s, 1.0, "s"),
        Goal("bad canary rollback, loaded / alone", figures.rollback_ratio, 1.5, "x"),
        Goal("requests at rest per min per 100", None if api is None else api.rest_per_min_per_100, 1.0, "/min/100"),
        Goal("writes per step (1 route + status + Event)", None if api is None else api.writes_per_step, 3.0, ""),
    ]


def checked(figures: Figures) -> bool:
    """Whether this size's goals count toward the exit code."""
    return figures.releases <= GOAL_SIZE


def missed(all_figures: Sequence[Figures]) -> list[tuple[int, Goal]]:
    return [(f.releases, g) for f in all_figures if checked(f) for g in goals(f) if not g.met]


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f} {unit}".strip()


def table(all_figures: Sequence[Figures]) -> str:
    sizes = [f.releases for f in all_figures]
    lines = [f"{'goal':<44} {'limit':>12} " + " ".join(f"{f'{n:,} releases':>22}" for n in sizes)]
    if not all_figures:
        return lines[0]
    for index, goal in enumerate(goals(all_figures[0])):
        cells = []
        for figures in all_figures:
            mine = goals(figures)[index]
            mark = ("ok" if mine.met else "MISS") if checked(figures) else "info"
            cells.append(f"{value_text(mine.value, mine.unit)} {mark}")
        lines.append(f"{goal.name:<44} {value_text(goal.limit, goal.unit):>12} " + " ".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)
