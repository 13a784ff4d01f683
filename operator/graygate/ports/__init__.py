"""The seams between graygate's core and the outside world, as small Protocols and the plain data they exchange.

The service layer talks to "a traffic router", "a gate" and "a metric provider", never to Istio, aiohttp or
Prometheus's client. An adapter (``routers/istio.py``, ``gates/http_probe.py``) satisfies a Protocol here; tests
satisfy it with a hand-written fake (``tests/unit/fakes/``, one per port). Each Protocol stays at
four methods or fewer, and every value that crosses a seam is a frozen dataclass, so nothing downstream can mutate
what was observed.

One module per seam:

    routing.py   TrafficRouter, VirtualServiceStore and the routing data they exchange
    gates.py     Observer (one gate kind's I/O), Measurer (the gates a tick runs)
    metrics.py   MetricProvider, its sources and answers
    secrets.py   SecretReader
    config.py    ConfigKeys (a release's etcd keys), ConfigStore and WatchConnection (etcd itself)
    release.py   StatusWriter, EventSink, WorkloadProbe and ReleaseRef
    destinations.py  DestinationRules (the subsets a release routes to)
"""
