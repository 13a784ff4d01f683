"""The largest releases the CRD allows, for the API server's CEL cost budget.

The API server stops evaluating a CRD's `x-kubernetes-validations` once a request has spent its runtime cost budget
and refuses the object ("validation failed due to running out of cost budget"), so a release the server admits is
one whose rules fit. The cost grows with the list lengths the rules iterate and the string lengths they read: here
every list the spec has is filled to its `maxItems` (and every map a rule walks to its `maxProperties`), and every
string a rule reads (hosts, subsets, gate and hook names, header names, durations) is at its `maxLength`. Strings no
rule reads stay short, so that the object fits etcd's request limit (1.5 MiB) and the measure is of the rules.

Two releases, because the routing decides which rules iterate: Istio (16 VirtualServices of 16 routes, subsets)
and Gateway API (16 HTTPRoutes of 8 rules, 64 header-route steps of 8 matches of 8 headers, which only the Gateway
API rules walk).
"""

from __future__ import annotations

from typing import Any

NAME = 253
GATE_NAME = 63
HEADER_NAME = 256
DURATION = 32


def dns(length: int, tag: str) -> str:
    """A valid DNS subdomain of exactly `length` characters ending in `tag`."""
    return ("a" * (length - len(tag) - 1)) + "-" + tag if length > len(tag) + 1 else tag[-length:]


def padded(duration: str) -> str:
    """`duration` written in all of a duration field's 32 characters (leading zeros)."""
    return "0" * (DURATION - len(duration)) + duration


def header(index: int) -> dict[str, Any]:
    return {"name": f"X-{index:02d}-" + "h" * (HEADER_NAME - 6), "value": "v"}


def webhook(index: int) -> dict[str, Any]:
    return {
        "url": "http://127.0.0.1:9/" + "u" * 8,
        "timeout": padded("500ms"),
        "retries": 5,
        "headers": [header(i) for i in range(32)],
        "metadata": {f"k{i:02d}": "m" for i in range(32)},
        "expect": [{"path": f"$.v{i}", "equals": "ok"} for i in range(16)],
    }


def _common(steps: list[dict[str, Any]]) -> dict[str, Any]:
    gates = [
        {"name": dns(GATE_NAME, f"g{i:02d}"), "initialDelay": padded("1s"), "webhook": webhook(i)} for i in range(16)
    ]
    return {
        "canaryWorkload": {"name": dns(NAME, "canary")},
        "stableWorkload": {"name": dns(NAME, "stable")},
        "progressDeadline": padded("10m"),
        "steps": steps,
        "analysis": {
            "interval": padded("10s"),
            "gates": gates,
            "gateRefs": [
                {"name": dns(NAME, f"t{i:02d}"), "args": {f"a{j:02d}": "x" for j in range(32)}} for i in range(16)
            ],
        },
        "hooks": [
            {"name": dns(GATE_NAME, f"h{i:02d}"), "stage": "preRollout", "webhook": webhook(i)} for i in range(16)
        ],
        "config": {
            "etcd": {"endpoints": [f"etcd-{i}:2379" for i in range(16)], "dialTimeout": padded("1s")},
            "keys": [{"key": f"/app/{i:02d}/" + "k" * 1016, "value": "1"} for i in range(32)],
        },
        "notifications": {
            "channels": [
                {
                    "name": dns(GATE_NAME, f"c{i}"),
                    "kind": "webhook",
                    "urlFrom": {"secretKeyRef": {"name": dns(NAME, f"s{i}"), "key": "url"}},
                    "events": ["started", "stepAdvanced", "paused", "succeeded", "rolledBack", "aborted", "stalled"],
                }
                for i in range(10)
            ]
        },
    }


def largest_istio_spec() -> dict[str, Any]:
    steps = [{"setWeight": min(100, i * 2)} for i in range(64)]
    return {
        "trafficRouting": {
            "istio": {
                "virtualServices": [
                    {"name": dns(NAME, f"vs{i:02d}"), "routes": [dns(NAME, f"r{i:02d}-{j:02d}") for j in range(16)]}
                    for i in range(16)
                ]
            }
        },
        "stable": {"host": dns(NAME, "host"), "subset": dns(NAME, "stable"), "port": 65535},
        "canary": {"host": dns(NAME, "host"), "subset": dns(NAME, "canary"), "port": 65535},
        **_common(steps),
    }


def largest_gateway_api_spec() -> dict[str, Any]:
    match = [{"headers": {f"x-{m}-{h}-" + "n" * 58: {"exact": "yes"} for h in range(8)}} for m in range(8)]
    steps = [{"setHeaderRoute": {"match": match}} for _ in range(64)]
    return {
        "trafficRouting": {
            "gatewayAPI": {
                "httpRoutes": [
                    {"name": dns(NAME, f"hr{i:02d}"), "rules": [f"r{i:02d}-{j}" for j in range(8)]} for i in range(16)
                ]
            }
        },
        "stable": {"host": dns(NAME, "stable"), "port": 65535},
        "canary": {"host": dns(NAME, "canary"), "port": 65535},
        **_common(steps),
    }


LARGEST = {"Istio": largest_istio_spec, "Gateway API": largest_gateway_api_spec}
