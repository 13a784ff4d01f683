"""`graygate check` against the traffic lab: real traffic through Envoy at 50/50, a real Prometheus, the canary's
real health endpoint. A healthy canary exits 0; the same canary answering 40 % errors exits 1, and the JSON names
the gate that failed with its value and threshold."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from e2e.lab import TrafficLab
from tests.cluster_support import ISTIO


def _manifest(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": "app", "namespace": namespace},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "app", "routes": ["primary"]}]}},
            "stable": {"host": "app", "subset": "stable"},
            "canary": {"host": "app", "subset": "canary"},
            "canaryWorkload": {"name": "app-canary"},
            "stableWorkload": {"name": "app-stable"},
            "steps": [{"setWeight": 50}],
            "analysis": {
                "interval": "10s",
                "gates": [
                    {"name": "health", "httpProbe": {"url": "http://app-canary:8080/healthz", "timeout": "1s"}},
                    {
                        "name": "success-rate",
                        "prometheus": {"requestSuccessRate": {"min": 95, "minRequests": 20}, "window": "5s"},
                    },
                ],
            },
        },
    }


async def _check(manifest: Path, lab: TrafficLab) -> tuple[int, dict[str, Any]]:
    argv = [
        sys.executable, "-m", "graygate.cli", "check", str(manifest), "--format", "json",
        "--prometheus", lab.prometheus_url, "--url", f"health={lab.backend_url('canary')}/healthz",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, json.loads(out)


async def test_check_passes_a_healthy_canary_and_fails_a_faulty_one_naming_the_gate(
    api: client.ApiClient, namespace: str, lab: TrafficLab, tmp_path: Path
) -> None:
    client.CustomObjectsApi(api).replace_namespaced_custom_object(
        **ISTIO, namespace=namespace, name="app",
        body={**TrafficLab.weighted_virtualservice({"stable": 50, "canary": 50}),
              "metadata": {"name": "app", "resourceVersion": _version(api, namespace)}},
    )  # fmt: skip
    manifest = tmp_path / "release.yaml"
    manifest.write_text(yaml.safe_dump(_manifest(namespace)))
    load = lab.load(rate_per_s=40, max_requests=2000, max_duration_s=40)
    load.start()
    try:
        await asyncio.sleep(6)  # one window of traffic at 50/50, scraped every second
        code, healthy = await _check(manifest, lab)
        assert code == 0, healthy
        assert healthy["verdict"] == "Pass"
        assert [gate["verdict"] for gate in healthy["gates"]] == ["Pass", "Pass"]

        await lab.set_knobs("canary", error_rate=0.4)
        await asyncio.sleep(6)  # the errors fill the window
        code, faulty = await _check(manifest, lab)
    finally:
        await load.stop()

    assert code == 1, faulty
    assert faulty["verdict"] == "Fail"
    failed = [gate for gate in faulty["gates"] if gate["verdict"] == "Fail"]
    assert [gate["name"] for gate in failed] == ["success-rate"], faulty
    assert failed[0]["kind"] == "prometheus"
    assert failed[0]["value"], failed[0]
    assert failed[0]["threshold"], failed[0]
    assert "istio_requests_total" in failed[0]["query"]


def _version(api: client.ApiClient, namespace: str) -> str:
    found = client.CustomObjectsApi(api).get_namespaced_custom_object(**ISTIO, namespace=namespace, name="app")
    return str(found["metadata"]["resourceVersion"])
