"""Apply generated specs to the real API server, with the real operator running, and put each in its class.

For each spec, on a bounded pool of threads: create the VirtualServices it names (under names of its own, so no two
specs in flight share one and a change can be traced to its release), create the release, and then:
- refused: the API server's 422 must name a field (every cause carries one);
- accepted: wait until the operator has written a status for this generation; `Invalid` must name a field in its
  message, any other phase is valid (and given a few seconds to start moving traffic). Then delete the release,
  wait until it is gone (the operator's finalizer), and, when it was Invalid, check that none of its
  VirtualServices changed (same resourceVersion as created).
Anything else (a refusal without a field, no status in time, a deletion that never ends, a touched VirtualService,
a phase the model's own parse contradicts) is a violation.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from graygate.api.validation import InvalidSpec, parse_spec
from tests.cluster_support import ISTIO, RELEASES
from tests.spec_fuzz.generation import Case

REFUSED, INVALID, VALID = "refused", "Invalid", "valid"
DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
FIELD_IN_MESSAGE = re.compile(r"\b((?:spec|metadata)(?:\.[A-Za-z0-9_]+|\[[^\]]*\])*)\s*:")
INDEX = re.compile(r"\[[^\]]*\]")
NOT_CHECKED = "some validation rules were not checked because the object was invalid"


@dataclass
class Outcome:
    case: Case
    verdict: str = ""
    fields: tuple[str, ...] = ()
    """The fields the refusal or the Invalid message names, indices and keys written `[]`."""
    detail: str = ""
    phase: str = ""
    violations: list[str] = field(default_factory=list)
    virtual_services: int = 0


@dataclass(frozen=True)
class Limits:
    status_timeout_s: float = 45.0
    deletion_timeout_s: float = 45.0
    settle_s: float = 4.0
    poll_s: float = 0.15


def generic(path: str) -> str:
    """`spec.steps[3].setWeight` is `spec.steps[].setWeight`: one row per field, not per index."""
    return INDEX.sub("[]", path)


class Applier:
    """Applies cases in one namespace, each worker thread with its own API client."""

    def __init__(self, kubeconfig: Path, namespace: str, limits: Limits = Limits()) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.limits = limits
        self._local = threading.local()

    def _custom(self) -> client.CustomObjectsApi:
        if not hasattr(self._local, "custom"):
            api = config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
            self._local.custom = client.CustomObjectsApi(api)
        custom: client.CustomObjectsApi = self._local.custom
        return custom

    def apply_all(
        self, cases: Sequence[Case], workers: int, progress: Callable[[int], None] | None = None
    ) -> list[Outcome]:
        done = 0
        lock = threading.Lock()

        def one(case: Case) -> Outcome:
            nonlocal done
            try:
                outcome = self.apply(case)
            except Exception as error:  # a failure of the harness or the server is a violation, never a crash
                outcome = Outcome(case, verdict="error", violations=[f"{type(error).__name__}: {error}"[:500]])
            with lock:
                done += 1
                if progress is not None:
                    progress(done)
            return outcome

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, cases))

    def apply(self, case: Case) -> Outcome:
        outcome = Outcome(case)
        spec, routed = own_virtual_services(case)
        created = self._create_virtual_services(routed, spec)
        outcome.virtual_services = len(created)
        body = {"apiVersion": "graygate.dev/v1alpha1", "kind": "CanaryRelease", "metadata": {"name": case.name}}
        try:
            stored: dict[str, Any] = self._custom().create_namespaced_custom_object(
                **RELEASES, namespace=self.namespace, body={**body, "spec": spec}
            )
        except ApiException as error:
            self._refused(outcome, error)
            self._delete_virtual_services(created, outcome, check=False)
            return outcome
        try:
            self._judged(outcome, stored)
        finally:
            self._delete_release(stored["metadata"]["name"], outcome)
            self._delete_virtual_services(created, outcome, check=outcome.verdict != VALID)
        return outcome

    # -- refused ---------------------------------------------------------------------------------------------------

    def _refused(self, outcome: Outcome, error: ApiException) -> None:
        outcome.verdict = REFUSED
        try:
            status = json.loads(error.body or "{}")
        except ValueError:
            status = {}
        outcome.detail = str(status.get("message") or error.reason)[:300]
        causes = (status.get("details") or {}).get("causes") or []
        # Beside the real causes the server may add one with the field "<nil>": "some validation rules were not
        # checked because the object was invalid". It names no field, and needs none.
        causes = [cause for cause in causes if NOT_CHECKED not in str(cause.get("message"))]
        fields = [str(cause.get("field") or "") for cause in causes]
        if error.status != 422 or not causes or not all(found and found != "<nil>" for found in fields):
            outcome.violations.append(f"refused ({error.status}) without a field: {outcome.detail}")
        outcome.fields = tuple(sorted({generic(found) for found in fields if found}))

    # -- accepted --------------------------------------------------------------------------------------------------

    def _judged(self, outcome: Outcome, stored: dict[str, Any]) -> None:
        name, generation = stored["metadata"]["name"], stored["metadata"].get("generation")
        deadline = time.monotonic() + self.limits.status_timeout_s
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            current = self._custom().get_namespaced_custom_object(**RELEASES, namespace=self.namespace, name=name)
            status = current.get("status") or {}
            if status.get("phase") and status.get("observedGeneration") == generation:
                stored = current
                break
            time.sleep(self.limits.poll_s)
        else:
            outcome.verdict = "stalled"
            outcome.violations.append(f"no status for generation {generation} after {self.limits.status_timeout_s} s")
            return
        outcome.phase = str(status["phase"])
        message = str(status.get("message") or "")
        parsed = parse_spec(stored.get("spec") or {}, release=name)
        if outcome.phase == INVALID:
            outcome.verdict = INVALID
            outcome.detail = message[:300]
            named = {generic(found) for found in FIELD_IN_MESSAGE.findall(message)}
            outcome.fields = tuple(sorted(named - {"spec"} or named))
            if not named:
                outcome.violations.append(f"Invalid without a field: {message[:300]}")
        else:
            outcome.verdict = VALID
            outcome.phase = self._settled(name, outcome.phase)
            if isinstance(parsed, InvalidSpec):
                outcome.violations.append(f"phase {outcome.phase} for a spec the model refuses: {parsed.message[:300]}")

    def _settled(self, name: str, phase: str) -> str:
        """The phase a valid release reaches within `settle_s` of its first status (it leaves `Pending` once its
        routes are read and it starts, or stays there waiting for a missing one)."""
        deadline = time.monotonic() + self.limits.settle_s
        while phase == "Pending" and time.monotonic() < deadline:
            time.sleep(self.limits.poll_s * 2)
            current = self._custom().get_namespaced_custom_object(**RELEASES, namespace=self.namespace, name=name)
            phase = str((current.get("status") or {}).get("phase") or phase)
        return phase

    def _delete_release(self, name: str, outcome: Outcome) -> None:
        custom = self._custom()
        try:
            custom.delete_namespaced_custom_object(**RELEASES, namespace=self.namespace, name=name)
        except ApiException as error:
            if error.status != 404:
                raise
        deadline = time.monotonic() + self.limits.deletion_timeout_s
        while time.monotonic() < deadline:
            try:
                custom.get_namespaced_custom_object(**RELEASES, namespace=self.namespace, name=name)
            except ApiException as error:
                if error.status == 404:
                    return
                raise
            time.sleep(self.limits.poll_s)
        outcome.violations.append(f"release still there {self.limits.deletion_timeout_s} s after its deletion")

    # -- VirtualServices -------------------------------------------------------------------------------------------

    def _create_virtual_services(self, routed: dict[str, list[str]], spec: dict[str, Any]) -> dict[str, str]:
        """name -> resourceVersion of each VirtualService created (one the API server refuses is left out)."""
        created: dict[str, str] = {}
        for name, routes in routed.items():
            try:
                made = self._custom().create_namespaced_custom_object(
                    **ISTIO, namespace=self.namespace, body=virtual_service(name, routes, spec)
                )
            except ApiException as error:
                if error.status in (400, 422):
                    continue
                raise
            created[name] = made["metadata"]["resourceVersion"]
        return created

    def _delete_virtual_services(self, created: dict[str, str], outcome: Outcome, *, check: bool) -> None:
        custom = self._custom()
        for name, version in created.items():
            if check:
                now = custom.get_namespaced_custom_object(**ISTIO, namespace=self.namespace, name=name)
                if now["metadata"]["resourceVersion"] != version:
                    outcome.violations.append(f"VirtualService {name} changed by a release classed {outcome.verdict}")
            custom.delete_namespaced_custom_object(**ISTIO, namespace=self.namespace, name=name)


def own_virtual_services(case: Case) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The case's spec with every valid VirtualService name it gives renamed to one of this case's own (the same
    name twice stays the same twice), and those names with the routes the spec lists for them."""
    spec = json.loads(json.dumps(case.spec))
    routing = spec.get("trafficRouting")
    istio = routing.get("istio") if isinstance(routing, dict) else None
    entries = istio.get("virtualServices") if isinstance(istio, dict) else None
    if not isinstance(entries, list):
        return spec, {}
    renamed: dict[str, str] = {}
    routed: dict[str, list[str]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        original = entry["name"]
        if not (DNS_NAME.match(original) and len(original) <= 253):
            continue
        own = renamed.setdefault(original, f"vs-{case.index:05d}-{len(renamed)}")
        entry["name"] = own
        routes = entry.get("routes")
        listed = [r for r in routes if isinstance(r, str)] if isinstance(routes, list) else []
        routed.setdefault(own, [])
        routed[own] += [r for r in listed if r not in routed[own]]
    return spec, routed


def _destination(side: Any, subset: str) -> dict[str, Any]:
    """The spec's stable or canary side as an Istio destination, where it reads as one; `checkout` otherwise."""
    side = side if isinstance(side, dict) else {}
    host = side.get("host") if isinstance(side.get("host"), str) and side.get("host") else "checkout"
    destination: dict[str, Any] = {"host": host}
    if isinstance(side.get("subset"), str):
        destination["subset"] = side["subset"]
    elif not isinstance(side.get("host"), str):
        destination["subset"] = subset
    port = side.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        destination["port"] = {"number": port}
    return destination


def virtual_service(name: str, routes: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    """A VirtualService with each named route (or one unnamed route) sending everything to the spec's stable side."""
    stable, canary = _destination(spec.get("stable"), "stable"), _destination(spec.get("canary"), "canary")
    http = [
        {"name": route, "route": [{"destination": stable, "weight": 100}, {"destination": canary, "weight": 0}]}
        for route in (routes or [""])
    ]
    if not routes:
        http[0].pop("name")
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {"hosts": ["checkout"], "http": http[:16]},
    }
