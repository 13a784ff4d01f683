"""What must hold in every version of every VirtualService and CanaryRelease the API server ever stores, whatever
crashes, restarts or outages happen meanwhile: pure checks over versions in resourceVersion order.

Why resourceVersion order: the operator writes a release's status (its intent) before the routes, and the two
kinds arrive on two watches whose deliveries interleave arbitrarily. With one etcd behind the API server, a
resourceVersion is etcd's revision, a single counter across kinds, so sorting by it restores the order in which
the writes really happened. (Kubernetes calls resourceVersions opaque; the sandbox has exactly one etcd, which is
what makes them comparable here, and nowhere else.)

The rules, per run of a release (a run is a release's uid with one `status.startedAt`):

- **weights**: every http route of a managed VirtualService splits traffic in integer weights summing to 100 (a
  route to a single destination may leave its weight out);
- **no rise after failure**: once the release is `Failed` or `Aborted`, the canary's weight on its routes never
  rises again in that run;
- **steps**: `status.currentStepIndex` moves by 0 or +1 between two versions of a run; anything else needs a
  recorded command (`status.lastCommand` changed in that version, e.g. `promote --full`);
- **no step written twice**: once a route left the canary weight it had at step i, it does not come back to
  that weight at step i, unless in between a command was recorded, the release's intended weight
  (`status.canaryWeight`) changed, or the route held a weight nobody intended (a drift the operator corrected);
- **final state** (`final_violations`): when a release ends, its routes carry what its phase says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FAILED_PHASES = frozenset({"Failed", "Aborted"})
ENDED_PHASES = frozenset({"Succeeded", "Failed", "Aborted"})

RouteKey = tuple[str, str, str | None]
"""(namespace, VirtualService name, http route name)."""


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    detail: str
    resource_version: int

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject} @rv {self.resource_version}: {self.detail}"


@dataclass(frozen=True)
class ReleaseVersion:
    """What the checks need from one stored version of a CanaryRelease."""

    resource_version: int
    namespace: str
    name: str
    uid: str
    phase: str | None
    step: int
    canary_weight: int
    started_at: str | None
    command: str | None
    canary: tuple[str, str | None]
    """The canary destination: (host, subset)."""
    routes: tuple[tuple[str, str | None], ...]
    """The managed routes: (VirtualService, route name or None for all of the object's routes)."""
    deleting: bool = False
    """`metadata.deletionTimestamp` is set: the operator restores the routes before letting it go."""
    deleted: bool = False

    @classmethod
    def of(cls, body: Mapping[str, Any], deleted: bool = False) -> ReleaseVersion:
        meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
        canary = spec.get("canary") or {}
        routes: list[tuple[str, str | None]] = []
        for ref in ((spec.get("trafficRouting") or {}).get("istio") or {}).get("virtualServices") or []:
            names = ref.get("routes") or [None]
            routes.extend((ref["name"], route) for route in names)
        command = status.get("lastCommand") or {}
        return cls(
            resource_version=int(meta["resourceVersion"]),
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            uid=meta.get("uid", ""),
            phase=status.get("phase"),
            step=int(status.get("currentStepIndex") or 0),
            canary_weight=int(status.get("canaryWeight") or 0),
            started_at=status.get("startedAt"),
            command=command.get("value"),
            canary=(str(canary.get("host", "")), canary.get("subset")),
            routes=tuple(routes),
            deleting=meta.get("deletionTimestamp") is not None,
            deleted=deleted,
        )

    @property
    def run(self) -> tuple[str, str] | None:
        return None if self.started_at is None else (self.uid, self.started_at)


Destination = tuple[str, str | None, object]
"""(host, subset, weight as stored: an int, None when absent, or whatever a bad write put there)."""


@dataclass(frozen=True)
class RouteVersion:
    """What the checks need from one stored version of a VirtualService: its http routes' destinations."""

    resource_version: int
    namespace: str
    name: str
    routes: Mapping[str | None, tuple[Destination, ...]]
    deleted: bool = False

    @classmethod
    def of(cls, body: Mapping[str, Any], deleted: bool = False) -> RouteVersion:
        meta = body["metadata"]
        routes: dict[str | None, tuple[Destination, ...]] = {}
        for http in (body.get("spec") or {}).get("http") or []:
            routes[http.get("name")] = tuple(
                (str(d.get("destination", {}).get("host", "")), d.get("destination", {}).get("subset"), d.get("weight"))
                for d in http.get("route") or []
            )
        return cls(int(meta["resourceVersion"]), meta.get("namespace", ""), meta["name"], routes, deleted)


def weight_violations(version: RouteVersion) -> list[str]:
    """What is wrong with the weights of each route: not integers, negative, or not summing to 100."""
    found: list[str] = []
    for route, destinations in version.routes.items():
        if not destinations:
            continue
        weights = [weight for _, _, weight in destinations]
        if len(destinations) == 1 and weights[0] is None:
            continue
        if any(type(weight) is not int for weight in weights):  # bool is an int subclass: refused too
            found.append(f"route {route}: weights {weights} are not all integers")
            continue
        ints = [int(str(weight)) for weight in weights]
        if any(weight < 0 for weight in ints):
            found.append(f"route {route}: a negative weight in {ints}")
        if sum(ints) != 100:
            found.append(f"route {route}: weights {ints} sum to {sum(ints)}, not 100")
    return found


def canary_weight(destinations: Sequence[Destination], canary: tuple[str, str | None]) -> int:
    """The weight the canary destination gets on one route (0 when absent; a lone unweighted one gets 100)."""
    total = 0
    for host, subset, weight in destinations:
        if (host, subset) == canary:
            total += 100 if weight is None and len(destinations) == 1 else weight if type(weight) is int else 0
    return total


@dataclass
class _RunState:
    step: int | None = None
    command: str | None = None
    commanded: bool = False
    intent: int | None = None
    intents: set[int] = field(default_factory=set)
    """Every canary weight the release's status asked for in this run."""
    epoch: int = 0
    """Bumped whenever the intent changes or a command is recorded: a write in a later epoch was asked for anew."""
    failed_weight: dict[RouteKey, int] = field(default_factory=dict)
    """Per route, the canary weight last seen since the run failed."""
    last_weight: dict[RouteKey, int] = field(default_factory=dict)
    step_writes: dict[tuple[RouteKey, int, int], int] = field(default_factory=dict)
    """(route, step, weight) → the epoch the route was last moved to that weight at that step."""


@dataclass
class InvariantChecker:
    """Feed it every version in resourceVersion order (`observe`); it keeps the violations it finds."""

    violations: list[Violation] = field(default_factory=list)
    versions_checked: int = 0
    _releases: dict[tuple[str, str], ReleaseVersion] = field(default_factory=dict)
    """(namespace, release name) → its latest version."""
    _runs: dict[tuple[str, str], _RunState] = field(default_factory=dict)
    _last_rv: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def observe(self, version: ReleaseVersion | RouteVersion) -> list[Violation]:
        before = len(self.violations)
        key = (type(version).__name__, version.namespace, version.name)
        if not version.deleted and version.resource_version <= self._last_rv.get(key, 0):
            return []  # delivered again (a relist after a watch fell out of its window): checked already
        self._last_rv[key] = version.resource_version
        self.versions_checked += 1
        if isinstance(version, ReleaseVersion):
            self._observe_release(version)
        else:
            self._observe_routes(version)
        return self.violations[before:]

    def observe_all(self, versions: Iterable[ReleaseVersion | RouteVersion]) -> list[Violation]:
        found: list[Violation] = []
        for version in sorted(versions, key=lambda v: v.resource_version):
            found.extend(self.observe(version))
        return found

    def forget_order(self) -> None:
        """Versions were lost (a watch fell out of its window): the rules that compare a version with the one
        before start over; a rise after failure is still caught from the next version on."""
        for state in self._runs.values():
            state.step = None
            state.last_weight.clear()
            state.step_writes.clear()

    def _flag(self, rule: str, subject: str, detail: str, rv: int) -> None:
        self.violations.append(Violation(rule, subject, detail, rv))

    def _observe_release(self, version: ReleaseVersion) -> None:
        key = (version.namespace, version.name)
        if version.deleted:
            self._releases.pop(key, None)
            return
        self._releases[key] = version
        if version.run is None:
            return
        state = self._runs.setdefault(version.run, _RunState())
        # The command's record and the move it causes may come in two versions: the record excuses the next move.
        if version.command != state.command and state.step is not None:
            state.commanded = True
        commanded = state.commanded
        if state.step is not None and not commanded and version.step not in (state.step, state.step + 1):
            self._flag(
                "steps", f"{version.namespace}/{version.name}",
                f"step index went from {state.step} to {version.step} with no recorded command",
                version.resource_version,
            )  # fmt: skip
        if commanded or state.intent != version.canary_weight:
            state.epoch += 1
        if version.step != state.step and state.step is not None:
            state.commanded = False
        state.step, state.command, state.intent = version.step, version.command, version.canary_weight
        state.intents.add(version.canary_weight)
        if version.phase in FAILED_PHASES:
            for route in self._route_keys(version):
                state.failed_weight.setdefault(route, state.last_weight.get(route, version.canary_weight))

    def _route_keys(self, release: ReleaseVersion) -> list[RouteKey]:
        return [(release.namespace, vs, route) for vs, route in release.routes]

    def _owner(self, routes: RouteVersion) -> ReleaseVersion | None:
        for release in self._releases.values():
            if release.namespace == routes.namespace and any(vs == routes.name for vs, _ in release.routes):
                return release
        return None

    def _observe_routes(self, version: RouteVersion) -> None:
        owner = self._owner(version)
        if owner is None or version.deleted:
            return
        subject = f"{version.namespace}/{version.name}"
        for problem in weight_violations(version):
            self._flag("weights", subject, problem, version.resource_version)
        if owner.run is None:
            return
        state = self._runs.setdefault(owner.run, _RunState())
        for vs, route in owner.routes:
            names = [route] if route is not None else list(version.routes)
            for name in names:
                if name in version.routes:
                    self._check_route(state, owner, (version.namespace, vs, name), version, name)

    def _check_route(
        self, state: _RunState, owner: ReleaseVersion, key: RouteKey, version: RouteVersion, name: str | None
    ) -> None:
        weight = canary_weight(version.routes[name], owner.canary)
        rv, subject = version.resource_version, f"{version.namespace}/{version.name}/{name}"
        if key in state.failed_weight:
            if weight > state.failed_weight[key]:
                self._flag(
                    "no rise after failure", subject,
                    f"canary weight rose from {state.failed_weight[key]} to {weight} after the release "
                    f"{owner.name} was {owner.phase}", rv,
                )  # fmt: skip
            state.failed_weight[key] = weight
        previous = state.last_weight.get(key)
        if previous == weight:
            return
        state.last_weight[key] = weight
        if owner.deleting or owner.phase in FAILED_PHASES:
            return  # the rollback or the deletion's restore: the rule above covers it
        if previous is not None and weight != state.intent and weight in state.intents:
            self._flag(
                "stale write", subject,
                f"canary weight {weight} written while the release {owner.name} asks for {state.intent}", rv,
            )  # fmt: skip
        drift = previous is not None and previous not in state.intents
        written = (key, state.step or 0, weight)
        if written in state.step_writes and state.step_writes[written] == state.epoch and not drift:
            self._flag(
                "step written twice", subject,
                f"canary weight {weight} written again at step {state.step} after it had left it", rv,
            )  # fmt: skip
        state.step_writes[written] = state.epoch


@dataclass(frozen=True)
class FinalState:
    """What is true of one release's surroundings once it ended, read after the fact."""

    phase: str
    canary_weights: Mapping[str, int]
    """Managed route → canary weight, as stored."""
    status_weight: int
    canary_replicas: int | None = None
    """With a followed workload: the canary Deployment's `spec.replicas` (None: not followed)."""
    expected_replicas: int | None = None
    config_values: Mapping[str, str | None] | None = None
    """With `spec.config`: each key's value in the application's etcd."""
    expected_config: Mapping[str, str | None] | None = None


def final_violations(name: str, final: FinalState) -> list[str]:
    """What in a release's surroundings does not match the phase it ended in."""
    found: list[str] = []
    wanted = {"Succeeded": 100, "Failed": 0, "Aborted": 0}.get(final.phase)
    for route, weight in final.canary_weights.items():
        if wanted is not None and weight != wanted:
            found.append(f"{name} ended {final.phase} with the canary at {weight}% on {route} (wanted {wanted}%)")
        if weight != final.status_weight:
            found.append(f"{name}: {route} carries {weight}% but status says {final.status_weight}%")
    if final.expected_replicas is not None and final.canary_replicas != final.expected_replicas:
        found.append(f"{name}: canary scaled to {final.canary_replicas}, wanted {final.expected_replicas}")
    if final.expected_config is not None and final.config_values != final.expected_config:
        found.append(f"{name}: etcd keys {final.config_values} do not match {final.expected_config}")
    return found
