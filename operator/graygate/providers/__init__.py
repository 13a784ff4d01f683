"""Metric providers: one module per metric backend behind `graygate.ports.MetricProvider`, and the registry.

prometheus.py  Prometheus's HTTP API, through prometheus_api_client (its only importer)
registry.py    PROVIDERS: type name → factory; an unknown type is an error, never a fallback
"""

from graygate.providers.prometheus import PrometheusProvider
from graygate.providers.registry import PROVIDERS, ProviderFactory, ProviderRegistry

__all__ = ["PROVIDERS", "PrometheusProvider", "ProviderFactory", "ProviderRegistry"]
