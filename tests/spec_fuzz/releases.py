"""Valid releases, the starting points of the mutations and of the drawn parts."""

from __future__ import annotations

from typing import Any


def valid_releases(probe_url: str) -> list[tuple[str, dict[str, Any]]]:
    """Releases the operator runs: each names the VirtualService `checkout` (renamed per case when applied)."""
    istio = {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}}
    sides = {
        "stable": {"host": "checkout", "subset": "stable", "port": 8080},
        "canary": {"host": "checkout", "subset": "canary", "port": 8080},
    }
    probe = {"name": "health", "httpProbe": {"url": probe_url, "expectStatus": [200], "timeout": "500ms"}}
    return [
        (
            "weights and a probe",
            {
                "trafficRouting": istio,
                **sides,
                "steps": [{"setWeight": 10}, {"pause": {"duration": "1s"}}, {"setWeight": 50}, {"setWeight": 100}],
                "analysis": {"interval": "1s", "gates": [probe]},
            },
        ),
        (
            "stepWeights",
            {
                "trafficRouting": istio,
                **sides,
                "stepWeights": [20, 60],
                "stepInterval": "1s",
                "progressDeadline": "2m",
                "analysis": {"interval": "1s", "failureLimit": 1, "errorPolicy": "hold"},
            },
        ),
        (
            "header route",
            {
                "trafficRouting": istio,
                **sides,
                "steps": [
                    {"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "yes"}}}]}},
                    {"setWeight": 30},
                ],
                "analysis": {"interval": "2s"},
            },
        ),
        (
            "prometheus",
            {
                "trafficRouting": istio,
                **sides,
                "canaryWorkload": {"name": "checkout-canary"},
                "stableWorkload": {"name": "checkout-stable"},
                "steps": [{"setWeight": 25}],
                "analysis": {
                    "interval": "1s",
                    "gates": [
                        {
                            "name": "success",
                            "prometheus": {
                                "source": {"address": "http://127.0.0.1:9/", "timeout": "500ms"},
                                "requestSuccessRate": {"min": 99, "minRequests": 10},
                                "window": "30s",
                                "onNoData": "inconclusive",
                            },
                        },
                        {
                            "name": "latency",
                            "prometheus": {"requestDuration": {"quantile": 0.99, "max": "500ms", "maxRatio": 1.5}},
                        },
                    ],
                },
            },
        ),
        (
            "webhook gate and hooks",
            {
                "trafficRouting": istio,
                **sides,
                "steps": [{"setWeight": 10}, {"setWeight": 40}],
                "analysis": {
                    "interval": "1s",
                    "gates": [
                        {
                            "name": "approve",
                            "webhook": {
                                "url": probe_url,
                                "timeout": "500ms",
                                "retries": 1,
                                "headers": [{"name": "X-Token", "value": "t"}],
                                "metadata": {"team": "shop"},
                                "expect": [{"path": "$.status", "equals": "ok"}],
                            },
                        }
                    ],
                },
                "hooks": [{"name": "announce", "stage": "preRollout", "webhook": {"url": probe_url}}],
            },
        ),
        (
            "etcd config",
            {
                "trafficRouting": istio,
                **sides,
                "steps": [{"setWeight": 50}],
                "analysis": {"interval": "1s"},
                "config": {
                    "etcd": {"endpoints": ["127.0.0.1:9"], "dialTimeout": "200ms"},
                    "keys": [{"key": "/app/feature", "value": "on"}, {"key": "/app/old", "delete": True}],
                },
            },
        ),
        (
            "gateway api",
            {
                "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "checkout", "rules": ["web"]}]}},
                "stable": {"host": "checkout", "port": 8080},
                "canary": {"host": "checkout-v2", "port": 8080},
                "steps": [{"setWeight": 20}],
                "analysis": {"interval": "1s"},
            },
        ),
    ]
