"""The one table of gate kinds: for each, the API model, the measurement (which names its pure judge) and the
observer (built from the shared `GateTools`).

Why one table: the runner, the URL allowlist, the judge dispatch and the CRD's bounded-wait rules read a kind's
facts from here and from the model and measurement this table names, so no other module keeps a list of kinds or
an `isinstance` ladder. A unit test checks that every member of `api.gates.GateCheck` has exactly one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graygate.api.gates import (
    ApiCompat,
    CheckModel,
    EtcdConfig,
    HotReload,
    HttpProbe,
    MetricParity,
    Prometheus,
    Webhook,
)
from graygate.api.gates.routing_check import RoutingCheck
from graygate.domain.analysis.api_compat import ApiCompatMeasurement
from graygate.domain.analysis.etcd_config import EtcdConfigMeasurement
from graygate.domain.analysis.hot_reload import HotReloadMeasurement
from graygate.domain.analysis.http_probe import HttpProbeMeasurement
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.metric_parity import MetricParityMeasurement
from graygate.domain.analysis.prometheus import PrometheusMeasurement
from graygate.domain.analysis.routing_check import RoutingCheckMeasurement
from graygate.domain.analysis.webhook import WebhookMeasurement
from graygate.gates.api_compat import ApiCompatObserver
from graygate.gates.etcd_config import EtcdConfigObserver
from graygate.gates.hot_reload import HotReloadObserver
from graygate.gates.http_probe import HttpProbeObserver
from graygate.gates.metric_parity import MetricParityObserver
from graygate.gates.prometheus import PrometheusObserver
from graygate.gates.routing_check import RoutingCheckObserver
from graygate.gates.tools import GateTools
from graygate.gates.webhook import WebhookObserver
from graygate.ports.gates import Observer

__all__ = ["KINDS", "GateKind", "kind_of"]


@dataclass(frozen=True)
class GateKind:
    """One gate kind: its check's model, its measurement and how to build its observer."""

    model: type[CheckModel]
    measurement: type[Measurement]
    observer: Callable[[GateTools], Observer]

    @property
    def name(self) -> str:
        """The kind's field name in a gate, e.g. `httpProbe`."""
        return self.model.kind


KINDS: tuple[GateKind, ...] = (
    GateKind(HttpProbe, HttpProbeMeasurement, HttpProbeObserver.of),
    GateKind(Prometheus, PrometheusMeasurement, PrometheusObserver.of),
    GateKind(MetricParity, MetricParityMeasurement, MetricParityObserver.of),
    GateKind(ApiCompat, ApiCompatMeasurement, ApiCompatObserver.of),
    GateKind(HotReload, HotReloadMeasurement, HotReloadObserver.of),
    GateKind(EtcdConfig, EtcdConfigMeasurement, EtcdConfigObserver.of),
    GateKind(RoutingCheck, RoutingCheckMeasurement, RoutingCheckObserver.of),
    GateKind(Webhook, WebhookMeasurement, WebhookObserver.of),
)

_BY_NAME = {kind.name: kind for kind in KINDS}


def kind_of(name: str) -> GateKind:
    """The table's line for the kind called `name`; a kind without a line is a bug, raised as a `KeyError`."""
    return _BY_NAME[name]
