"""One run: apply the cases, then check the operator is still whole, and count.

The operator is whole when its process is alive, its log holds no traceback (an error nobody handled), and it still
handles a known-good release after all the others: the release's first step reaches the VirtualService.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config

from tests.cluster_support import (
    ISTIO,
    RELEASES,
    OperatorProcess,
    canary_release,
    create_destination_rule,
    virtual_service,
    weights,
)
from tests.spec_fuzz.applying import INVALID, REFUSED, VALID, Applier, Outcome
from tests.spec_fuzz.generation import Case

FINAL_WEIGHT = 30


@dataclass
class Report:
    outcomes: list[Outcome]
    seconds: float
    operator_alive: bool = False
    final_release: str = ""
    """'' when the known-good release moved; what went wrong otherwise."""
    final_seconds: float = 0.0
    tracebacks: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        found = [f"{o.case.name} ({o.case.what[:120]}): {v}" for o in self.outcomes for v in o.violations]
        if not self.operator_alive:
            found.append("the operator process is gone")
        if self.final_release:
            found.append(f"the known-good release after the run: {self.final_release}")
        found += [f"traceback in the operator's log: {line}" for line in self.tracebacks]
        return found

    def lines(self, top: int = 20) -> list[str]:
        outcomes = self.outcomes
        classes = Counter(o.verdict for o in outcomes)
        origins = Counter(o.case.origin for o in outcomes)
        lines = [
            f"specs applied: {len(outcomes)} in {self.seconds:.0f} s "
            f"({', '.join(f'{origin} {n}' for origin, n in origins.most_common())})",
            "class                                 count",
        ]
        labels = {
            REFUSED: "refused at admission, field named",
            INVALID: "accepted, Invalid, field named",
            VALID: "valid",
        }
        for verdict, label in labels.items():
            lines.append(f"  {label:<36}{classes.get(verdict, 0):>6}")
        others = {verdict: n for verdict, n in classes.items() if verdict not in (REFUSED, INVALID, VALID)}
        lines += [f"  {verdict:<36}{n:>6}" for verdict, n in sorted(others.items())]
        phases = Counter(o.phase for o in outcomes if o.verdict == VALID)
        lines.append(f"valid, by phase: {', '.join(f'{phase} {n}' for phase, n in phases.most_common()) or '-'}")
        for verdict, label in ((REFUSED, "refused"), (INVALID, "Invalid")):
            by_field = Counter(name for o in outcomes if o.verdict == verdict for name in o.fields)
            lines.append(f"{label}, by field named ({len(by_field)} fields; the {min(top, len(by_field))} most seen):")
            lines += [f"  {n:>5}  {name}" for name, n in by_field.most_common(top)]
        invalid = [o for o in outcomes if o.verdict in (REFUSED, INVALID)]
        watched = sum(o.virtual_services for o in outcomes if o.verdict == INVALID)
        lines.append(
            f"VirtualServices created: {sum(o.virtual_services for o in outcomes)}; "
            f"{watched} of them named by Invalid releases, checked unchanged; {len(invalid)} specs invalid in all"
        )
        alive = "alive" if self.operator_alive else "GONE"
        moved = (
            f"moved a known-good release to {FINAL_WEIGHT} % in {self.final_seconds:.1f} s"
            if not self.final_release
            else f"did NOT move the known-good release: {self.final_release}"
        )
        lines.append(f"operator after the run: {alive}, {moved}, {len(self.tracebacks)} traceback(s) in its log")
        return lines


def run(
    kubeconfig: Path,
    namespace: str,
    operator: OperatorProcess,
    cases: Sequence[Case],
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> Report:
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    with api:
        # The subsets the valid releases' `checkout` destinations name, so that those can start.
        create_destination_rule(api, namespace)
        began = time.monotonic()
        outcomes = Applier(kubeconfig, namespace).apply_all(cases, workers, progress)
        report = Report(outcomes, time.monotonic() - began)
        report.final_release, report.final_seconds = known_good_release_moves(api, namespace)
    report.operator_alive = operator.popen is not None and operator.popen.poll() is None
    report.tracebacks = tracebacks(operator.log())
    return report


def known_good_release_moves(api: client.ApiClient, namespace: str, timeout_s: float = 60.0) -> tuple[str, float]:
    """('', seconds) once a fresh release's first step is on its VirtualService; (what was seen, seconds) if not."""
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=namespace, body=virtual_service("checkout"))
    body: dict[str, Any] = canary_release("known-good", [{"setWeight": FINAL_WEIGHT}, {"pause": {}}])
    began = time.monotonic()
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body)
    seen = (100, 0)
    while time.monotonic() - began < timeout_s:
        seen = weights(api, namespace, "checkout")
        if seen == (100 - FINAL_WEIGHT, FINAL_WEIGHT):
            return "", time.monotonic() - began
        time.sleep(0.1)
    return f"weights still {seen} after {timeout_s:.0f} s", time.monotonic() - began


def tracebacks(log: str) -> list[str]:
    """The distinct last lines of the tracebacks in the operator's JSON log (the exception and its message)."""
    found: dict[str, None] = {}
    for line in log.splitlines():
        if "Traceback (most recent call last)" in line:
            last = line.replace("\\n", "\n").rstrip('"}\n').splitlines()[-1]
            found.setdefault(last[:300], None)
    return list(found)
