"""Releases kept in flight for the chaos bench: each slot runs one release after the other (good, bad, promoted
with `promote-full`, aborted), each run checked at its end against what its kind and its phase say.

Why slots of one release each: every release owns its VirtualService, so the invariants about one route are about
one release; slot 0 owns the lab's `app` VirtualService, the one real user traffic flows through, so users feel
whatever the faults do to its routes. Some slots also ask Prometheus (through the bench's proxy) and some write a
key in the application's etcd (`spec.config`), so that those faults meet releases that depend on them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.chaos.invariants import RouteVersion, canary_weight
from graygate.store.etcd.store import EtcdStore
from tests.virtual_services import destination_rule

RELEASES = ("graygate.dev", "v1alpha1", "canaryreleases")
ISTIO = ("networking.istio.io", "v1", "virtualservices")
DESTINATION_RULES = ("networking.istio.io", "v1", "destinationrules")

RunKind = Literal["good", "bad", "promote", "abort"]
EXPECTED: Mapping[RunKind, str] = {"good": "Succeeded", "bad": "Failed", "promote": "Succeeded", "abort": "Aborted"}
KIND_WEIGHTS: Mapping[RunKind, float] = {"good": 0.55, "bad": 0.25, "promote": 0.1, "abort": 0.1}
ENDED = ("Succeeded", "Failed", "Aborted")
STEPS = [{"setWeight": weight} for weight in (10, 20, 30, 40, 50)]
CONFIG_PREFIX = "/chaos/"
FINAL_WITHIN_S = 120.0


@dataclass(frozen=True)
class Slot:
    index: int
    prometheus: bool = False
    config: bool = False

    @property
    def name(self) -> str:
        return f"r{self.index:02d}"

    @property
    def host(self) -> str:
        return "app" if self.index == 0 else f"svc-{self.index:02d}"

    @property
    def key(self) -> str:
        return f"{CONFIG_PREFIX}{self.name}"


@dataclass
class Run:
    slot: str
    number: int
    kind: RunKind
    started: float
    ended: float | None = None
    phase: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def as_policy_says(self) -> bool:
        return self.phase == EXPECTED[self.kind]


@dataclass
class Surroundings:
    """What the cycling needs to read and write: the API (direct), the latest version of every object as the
    watcher saw it, the gate target, the Prometheus proxy's and the application etcd's addresses."""

    api: client.ApiClient
    namespace: str
    latest: dict[tuple[str, str], dict[str, Any]]
    statuses: dict[str, int]
    probe_url: str
    prometheus_url: str
    etcd_endpoint: str | None
    store: EtcdStore | None


def release_body(slot: Slot, number: int, env: Surroundings) -> dict[str, Any]:
    gates: list[dict[str, Any]] = [
        {"name": "health", "critical": True, "httpProbe": {"url": f"{env.probe_url}/{slot.name}", "timeout": "500ms"}}
    ]
    if slot.prometheus:
        query = {"expr": "sum(up)", "min": 1}
        source = {"address": env.prometheus_url, "timeout": "800ms"}
        gates.append({"name": "scraped", "prometheus": {"source": source, "query": query}})
    spec: dict[str, Any] = {
        "trafficRouting": {"istio": {"virtualServices": [{"name": slot.host, "routes": ["primary"]}]}},
        "stable": {"host": slot.host, "subset": "stable"},
        "canary": {"host": slot.host, "subset": "canary"},
        "steps": STEPS,
        "analysis": {"interval": "1s", "failureLimit": 0, "gates": gates},
    }
    if slot.config and env.etcd_endpoint is not None:
        spec["config"] = {
            "etcd": {"endpoints": [env.etcd_endpoint], "dialTimeout": "500ms"},
            "keys": [{"key": slot.key, "value": f"run-{number}"}],
        }
    meta = {"name": slot.name, "labels": {"chaos-run": str(number)}}
    return {"apiVersion": "graygate.dev/v1alpha1", "kind": "CanaryRelease", "metadata": meta, "spec": spec}


def route_bodies(slot: Slot) -> tuple[dict[str, Any], dict[str, Any]]:
    """The slot's VirtualService (stable 100 %) and DestinationRule (subsets stable and canary)."""
    route = {
        "name": "primary",
        "route": [
            {"destination": {"host": slot.host, "subset": "stable"}, "weight": 100},
            {"destination": {"host": slot.host, "subset": "canary"}, "weight": 0},
        ],
    }
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": slot.host},
        "spec": {"hosts": [slot.host], "http": [route]},
    }
    subsets = {version: {"app": f"{slot.host}-{version}"} for version in ("stable", "canary")}
    return vs, destination_rule(name=slot.host, host=slot.host, subsets=subsets)


async def create_routes(api: client.ApiClient, namespace: str, slot: Slot, with_vs: bool) -> None:
    custom = client.CustomObjectsApi(api)
    vs, rule = route_bodies(slot)
    if with_vs:
        await asyncio.to_thread(custom.create_namespaced_custom_object, *ISTIO[:2], namespace, ISTIO[2], vs)
    group, version, plural = DESTINATION_RULES
    await asyncio.to_thread(custom.create_namespaced_custom_object, group, version, namespace, plural, rule)


async def _retrying(what: str, call: Any, *args: Any, stop_at: float, **kwargs: Any) -> Any:
    """An API call retried through outages until `stop_at`; a 404 is an answer, not an outage."""
    while True:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except ApiException as error:
            if error.status in (404, 409) or time.monotonic() > stop_at:
                raise
        except Exception:
            if time.monotonic() > stop_at:
                raise TimeoutError(f"{what}: the API server did not answer in time") from None
        await asyncio.sleep(0.5)


@dataclass
class Cycler:
    """Runs release after release in one slot until `stopping` is set, then lets the current one end."""

    slot: Slot
    env: Surroundings
    rng: random.Random
    runs: list[Run]
    run_timeout_s: float = 600.0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    current: Run | None = None
    next_kind: RunKind | None = None
    """The kind of the next run, when a fault needs one (the seeded draw is made anyway, to keep the sequence)."""
    config_value: str | None = None

    async def cycle(self) -> None:
        number = 0
        while not self.stopping.is_set():
            number += 1
            kind: RunKind = self.rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
            kind, self.next_kind = self.next_kind or kind, None
            await self.one_run(number, kind)

    def _status(self, uid: str) -> dict[str, Any] | None:
        body = self.env.latest.get(("release", self.slot.name))
        if body is None or body["metadata"].get("uid") != uid:
            return None
        return body

    async def one_run(self, number: int, kind: RunKind) -> Run:
        custom = client.CustomObjectsApi(self.env.api)
        ns, name = self.env.namespace, self.slot.name
        run = Run(name, number, kind, time.monotonic())
        self.current = run
        self.runs.append(run)
        self.env.statuses[name] = 200
        deadline = time.monotonic() + self.run_timeout_s
        try:
            created = await _retrying(
                f"creating {name}", custom.create_namespaced_custom_object, *RELEASES[:2], ns, RELEASES[2],
                release_body(self.slot, number, self.env), stop_at=deadline,
            )  # fmt: skip
        except ApiException as error:
            if error.status != 409:  # created by an attempt whose answer was lost in an outage
                raise
            created = await _retrying(
                f"reading {name}", custom.get_namespaced_custom_object, *RELEASES[:2], ns, RELEASES[2], name,
                stop_at=deadline,
            )  # fmt: skip
        uid = created["metadata"]["uid"]
        sent = False
        body: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            body = self._status(uid)
            status = (body or {}).get("status") or {}
            step, phase = int(status.get("currentStepIndex") or 0), status.get("phase")
            if phase in ENDED:
                break
            if phase == "Progressing" and kind == "bad" and step >= 2:
                self.env.statuses[name] = 500
            command = {"promote": ("promote-full", 1), "abort": ("abort", 2)}.get(kind)
            if command is not None and not sent and phase == "Progressing" and step >= command[1]:
                patch = {"metadata": {"annotations": {"graygate.dev/command": f"{command[0]}/{number}"}}}
                await _retrying(
                    f"commanding {name}", custom.patch_namespaced_custom_object, *RELEASES[:2], ns, RELEASES[2],
                    name, patch, stop_at=deadline,
                )  # fmt: skip
                sent = True
            await asyncio.sleep(0.1)
        run.phase = ((body or {}).get("status") or {}).get("phase")
        run.ended = time.monotonic()
        if run.phase not in ENDED:
            run.problems.append(f"{name} run {number} ({kind}) still {run.phase} after {self.run_timeout_s:.0f} s")
        else:
            run.problems.extend(await self.final_problems(uid, run.phase))
        await self.delete(deadline + 120)
        if run.phase == "Succeeded":
            await self.promote_stable(deadline + 120)
        return run

    async def promote_stable(self, stop_at: float) -> None:
        """What the user does after a release without a followed workload succeeded: the canary's version becomes
        the stable one, and the route sends everything to stable again (deleting the release kept the canary's
        100 %)."""
        vs, _ = route_bodies(self.slot)
        await _retrying(
            f"resetting {self.slot.host}", client.CustomObjectsApi(self.env.api).patch_namespaced_custom_object,
            *ISTIO[:2], self.env.namespace, ISTIO[2], self.slot.host, {"spec": vs["spec"]}, stop_at=stop_at,
        )  # fmt: skip

    async def final_problems(self, uid: str, phase: str) -> list[str]:
        """The run ended: its routes come to carry what the phase says and its etcd key what it should, within
        `FINAL_WITHIN_S` (longer than any fault that keeps the operator from writing)."""
        wanted = 100 if phase == "Succeeded" else 0
        deadline = time.monotonic() + FINAL_WITHIN_S
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self._final_now(uid, phase, wanted)
            if self.slot.config and self.env.store is not None and not problems:
                problems = await self._config_problems(uid, phase)
            if not problems:
                return []
            await asyncio.sleep(0.2)
        return problems

    def _final_now(self, uid: str, phase: str, wanted: int) -> list[str]:
        routes = self.env.latest.get(("routes", self.slot.host))
        if routes is None:
            return [f"{self.slot.name}: VirtualService {self.slot.host} not seen"]
        version = RouteVersion.of(routes)
        weight = canary_weight(version.routes.get("primary", ()), (self.slot.host, "canary"))
        if weight != wanted:
            return [f"{self.slot.name} ended {phase} with the canary at {weight}% (wanted {wanted}%)"]
        return []

    async def _config_problems(self, uid: str, phase: str) -> list[str]:
        status = (self._status(uid) or {}).get("status") or {}
        state = (status.get("config") or {}).get("state")
        assert self.env.store is not None
        try:
            found = (await self.env.store.get_prefix(self.slot.key)).entries.get(self.slot.key)
        except Exception as error:  # an etcd outage: look again
            return [f"{self.slot.name}: etcd unreadable: {error}"]
        value = None if found is None else found.value
        if phase == "Succeeded":
            if state != "Applied":
                return [f"{self.slot.name} Succeeded with its config {state}"]
            wanted = f"run-{self.current.number if self.current else 0}"
        else:
            if state not in ("Restored", None):
                return [f"{self.slot.name} {phase} with its config {state}"]
            wanted = self.config_value  # type: ignore[assignment]
        if value != wanted:
            return [f"{self.slot.name} {phase}: etcd key {self.slot.key} holds {value!r}, wanted {wanted!r}"]
        self.config_value = value
        return []

    async def delete(self, stop_at: float) -> None:
        custom = client.CustomObjectsApi(self.env.api)
        try:
            await _retrying(
                f"deleting {self.slot.name}", custom.delete_namespaced_custom_object, *RELEASES[:2],
                self.env.namespace, RELEASES[2], self.slot.name, stop_at=stop_at,
            )  # fmt: skip
        except ApiException as error:
            if error.status != 404:
                raise
        while time.monotonic() < stop_at:
            if ("release", self.slot.name) not in self.env.latest:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.slot.name} not gone after its deletion")
