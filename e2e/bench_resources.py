"""What does the operator cost to run? `python -m e2e.bench_resources` (or `make bench-resources`).

Why: the chart's resource requests and limits must come from a measurement, not a guess. This starts the sandbox
API server on 127.0.0.1 and `graygate run` at its default 1 s tick as a child process, measures it idle, then with
N releases running (each one paused at 10 % with an HTTP probe gate checked every second against a local endpoint),
and prints the operator's CPU (as a share of one core, read from /proc/<pid>/stat) and resident memory
(/proc/<pid>/status VmRSS, peak VmHWM). The idle figure is the baseline measured in the same run, so the cost per
release is a difference between two readings on the same noisy machine, not an absolute taken on a quiet one.

Every wait is bounded; every process is stopped on the way out, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from graygate.sandbox import ControlPlane, ControlPlaneSettings
from tests.cluster_support import OperatorProcess, ProbeTarget, virtual_service
from tests.virtual_services import destination_rule

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Reading:
    """The operator's resource use over one measured stretch."""

    releases: int
    seconds: float
    cpu_share: float
    """CPU seconds used per wall-clock second: 0.18 is 18 % of one core."""
    rss_mib: float
    peak_rss_mib: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_resources", description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=20, help="releases running at once (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="each measured stretch (default 60)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before measuring (default 15)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) after a clean run")
    args = parser.parse_args(argv)
    if not 1 <= args.releases <= 100:
        parser.error("--releases must be between 1 and 100")
    if not 5 <= args.seconds <= 600:
        parser.error("--seconds must be between 5 and 600")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="graygate-bench-resources-"))
    settings = ControlPlaneSettings(crd_files=(REPO / "crds" / "canaryreleases.graygate.dev.yaml",))
    target = ProbeTarget()
    try:
        with ControlPlane(settings) as plane:
            print(f"sandbox up in {plane.startup_seconds:.1f} s", flush=True)
            idle, busy = measure(plane.kubeconfig, args, workdir, target.url)
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    except (TimeoutError, ApiException, OSError) as error:
        print(f"FAIL: the bench could not measure: {error}\nlogs kept in {workdir}", file=sys.stderr)
        return 1
    finally:
        target.close()
    print(report(idle, busy))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def measure(kubeconfig: Path, args: argparse.Namespace, workdir: Path, probe_url: str) -> tuple[Reading, Reading]:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    with api:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        custom = client.CustomObjectsApi(api)
        operator = OperatorProcess(kubeconfig, NAMESPACE, workdir / "operator.log", tick_interval_s=1.0)
        operator.start()
        try:
            assert operator.popen is not None
            pid = operator.popen.pid
            time.sleep(args.settle)
            idle = reading(pid, 0, args.seconds)
            print(f"idle: {row(idle)}", flush=True)
            custom.create_namespaced_custom_object(
                "networking.istio.io", "v1", NAMESPACE, "destinationrules", destination_rule()
            )
            for index in range(args.releases):
                name = f"svc-{index}"
                custom.create_namespaced_custom_object(
                    "networking.istio.io", "v1", NAMESPACE, "virtualservices", virtual_service(name)
                )
                custom.create_namespaced_custom_object(
                    "graygate.dev", "v1alpha1", NAMESPACE, "canaryreleases", paused_release(name, probe_url)
                )
            wait_until(lambda: paused_count(custom) == args.releases, 120, f"{args.releases} releases to pause")
            time.sleep(args.settle)
            busy = reading(pid, args.releases, args.seconds)
            print(f"busy: {row(busy)}", flush=True)
        finally:
            operator.stop()
    return idle, busy


def paused_release(name: str, probe_url: str) -> dict[str, Any]:
    """Paused at 10 % for good, with a probe every second: a release the operator keeps checking, as in a real
    cluster where most releases wait in a long pause."""
    return {
        "apiVersion": "graygate.dev/v1alpha1",
        "kind": "CanaryRelease",
        "metadata": {"name": name},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": name, "routes": ["primary"]}]}},
            "stable": {"host": "checkout", "subset": "stable", "port": 8080},
            "canary": {"host": "checkout", "subset": "canary", "port": 8080},
            "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 100}],
            "analysis": {
                "interval": "1s",
                "gates": [
                    {"name": "health", "httpProbe": {"url": probe_url, "expectStatus": [200], "timeout": "500ms"}}
                ],
            },
        },
    }


def paused_count(custom: client.CustomObjectsApi) -> int:
    listed: dict[str, Any] = custom.list_namespaced_custom_object(  # type: ignore[assignment]
        "graygate.dev", "v1alpha1", NAMESPACE, "canaryreleases"
    )
    return len([item for item in listed["items"] if item.get("status", {}).get("phase") == "Paused"])


def wait_until(ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")


def reading(pid: int, releases: int, seconds: float) -> Reading:
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    rss: list[float] = []
    deadline = wall_before + seconds
    while time.monotonic() < deadline:
        rss.append(memory_mib(pid)["VmRSS"])
        time.sleep(1.0)
    cpu_after, wall_after = cpu_seconds(pid), time.monotonic()
    elapsed = wall_after - wall_before
    return Reading(
        releases=releases,
        seconds=elapsed,
        cpu_share=(cpu_after - cpu_before) / elapsed,
        rss_mib=max(rss),
        peak_rss_mib=memory_mib(pid)["VmHWM"],
    )


def cpu_seconds(pid: int) -> float:
    # Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid: int) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def row(reading: Reading) -> str:
    return (
        f"{reading.releases:3d} releases: {reading.cpu_share:6.1%} of one core, "
        f"{reading.rss_mib:5.0f} MiB resident (peak {reading.peak_rss_mib:.0f} MiB) over {reading.seconds:.0f} s"
    )


def report(idle: Reading, busy: Reading) -> str:
    per_release = (busy.cpu_share - idle.cpu_share) / busy.releases
    return "\n".join(
        [
            "operator resources (graygate run, 1 s tick, one probe gate per release every second)",
            f"  idle      {row(idle)}",
            f"  running   {row(busy)}",
            f"  per release: {per_release:.2%} of one core, {(busy.rss_mib - idle.rss_mib) / busy.releases:.1f} MiB",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
