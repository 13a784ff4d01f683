"""The operator's own Prometheus metrics: what a platform team alerts on (stuck or failing releases, slow
rollbacks, reconcile errors) and what our benchmarks read (time from a failing verdict to the weights written).

Each metric lives in a registry owned by `OperatorMetrics`, so tests and several operators in one process never
collide in prometheus_client's global registry. Every series is labelled by namespace and release, and `forget`
drops all of a release's series when it is deleted, so the series count follows the releases that exist. Other
labels come from closed sets (phases, verdicts, reasons, error classes, readings) or from the release's own spec
(gate names).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_ROLLBACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ["namespace", "release"]
        self.phase = Gauge(
            "graygate_release_phase", "1 for the phase each release is in.", [*labels, "phase"], registry=self.registry
        )
        self.canary_weight = Gauge(
            "graygate_canary_weight_percent", "The canary weight graygate last wrote.", labels, registry=self.registry
        )
        self.verdicts = Counter(
            "graygate_gate_verdicts",
            'Gate verdicts, by gate and verdict; dry_run="true" for a dryRun gate\'s (reported, counted toward '
            "nothing: leave them out of alerts).",
            [*labels, "gate", "verdict", "dry_run"],
            registry=self.registry,
        )
        self.gate_value = Gauge(
            "graygate_gate_value",
            "What a gate last measured, by reading: canary, stable, canaryServed, stableServed, canaryRecent, "
            "stableRecent (the queries of a prometheus gate; a query answered by several series, such as requests by "
            "response code, is their sum), "
            "statusCode, latencySeconds (an httpProbe). NaN: the reading found nothing.",
            [*labels, "gate", "reading"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "graygate_transitions",
            "Release transitions, by Event reason.",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.rollbacks = Counter("graygate_rollbacks", "Rollbacks performed.", labels, registry=self.registry)
        self.time_to_rollback = Histogram(
            "graygate_time_to_rollback_seconds",
            "From the failing verdict to every managed VirtualService written back to stable.",
            labels,
            buckets=_ROLLBACK_BUCKETS,
            registry=self.registry,
        )
        self.virtualservice_writes = Counter(
            "graygate_virtualservice_writes",
            "VirtualService writes that reached the API server.",
            labels,
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "graygate_reconcile_errors",
            "Ticks that ended in an error, by error class.",
            [*labels, "error"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "graygate_notifications",
            "Notifications of release transitions, by channel kind and result: sent, failed (after its retries, or "
            "its URL unreadable or not allowed), rate_limited, dropped (the queue was full: channel_kind any).",
            ["channel_kind", "result"],
            registry=self.registry,
        )

        self._working: dict[tuple[str, str], set[str]] = {}
        """The uids of the releases, by namespace and name, that this process is working on (`graygate.lifecycle`)."""
        self._per_release = (
            self.phase,
            self.canary_weight,
            self.verdicts,
            self.gate_value,
            self.transitions,
            self.rollbacks,
            self.time_to_rollback,
            self.virtualservice_writes,
            self.reconcile_errors,
        )

    def set_phase(self, namespace: str, release: str, phase: str, phases: list[str]) -> None:
        for candidate in phases:
            self.phase.labels(namespace, release, candidate).set(1 if candidate == phase else 0)

    def working(self, namespace: str, release: str, uid: str) -> None:
        """Release `uid` writes the series of `namespace`/`release` until `done`."""
        self._working.setdefault((namespace, release), set()).add(uid)

    def done(self, namespace: str, release: str, uid: str) -> None:
        """Release `uid` is no longer worked on here (its daemon and its deletion have both let go of it)."""
        uids = self._working.get((namespace, release), set())
        uids.discard(uid)
        if not uids:
            self._working.pop((namespace, release), None)

    def forget(self, namespace: str, release: str, uid: str | None = None) -> None:
        """Drop every series of a release: a deleted release must not stay in its phase, weight or counters.

        The series are named by namespace and name, not by uid, and a release deleted and created again under the
        same name is another release: while another one (a uid other than `uid`) is `working`, its series are left
        alone. A daemon that exits late, after the name's next release started, would otherwise wipe that one's
        counters. Without `uid` (a daemon exiting, its own slot gone) any release still working keeps the series.
        """
        if self._working.get((namespace, release), set()) - {uid}:
            return
        for metric in self._per_release:
            metric.remove_by_labels({"namespace": namespace, "release": release})

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        start_http_server(port, addr=address, registry=self.registry)
