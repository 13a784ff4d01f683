"""Helpers for e2e tests: releases aimed at the traffic lab, and waiting without blocking the event loop (the load
generator and the VirtualService watcher share it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes import client

from tests.cluster_support import RELEASES, release


def lab_release(name: str, steps: list[dict[str, Any]], gates: list[dict[str, Any]], **analysis: Any) -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": name},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "app", "routes": ["primary"]}]}},
            "stable": {"host": "app", "subset": "stable"},
            "canary": {"host": "app", "subset": "canary"},
            "steps": steps,
            "analysis": {"interval": "1s", "failureLimit": 0, "gates": gates, **analysis},
        },
    }


async def apply_release(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    custom = client.CustomObjectsApi(api)
    await asyncio.to_thread(custom.create_namespaced_custom_object, **RELEASES, namespace=namespace, body=body)


async def wait_phase(
    api: client.ApiClient, namespace: str, name: str, phases: set[str], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(release, api, namespace, name)
        if seen.get("status", {}).get("phase") in phases:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never reached {phases} in {timeout_s} s; status: {seen.get('status')}")
