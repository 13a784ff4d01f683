"""Metric providers: one module per metric backend behind `graygate.ports.MetricProvider`.

prometheus.py  Prometheus's HTTP API, through prometheus_api_client (its only importer)

A second backend (Datadog, CloudWatch, ...) joins as a gate kind of its own in `graygate.gates.kinds`, whose observer
holds that backend's provider: a release names the backend by the gate kind it writes, so there is no type string to
look up and nothing to fall back to.
"""
