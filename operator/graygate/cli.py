"""The `graygate` command (also installed as `kubectl-graygate`).

Errors reach the user as one sentence saying what to do next; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from graygate.errors import GraygateError

DEFAULT_SANDBOX_DIR = Path(os.environ.get("GRAYGATE_SANDBOX_DIR", Path.home() / ".cache" / "graygate" / "sandbox"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graygate", description="Canary releases for Istio, gated and reverted.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[], help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    run.add_argument("--tick-interval", type=float, default=1.0, help="seconds between two ticks of a release")
    run.add_argument("--listen-address", default="127.0.0.1", help="address of the metrics and liveness endpoints")
    run.add_argument("--metrics-port", type=int, default=8081, help="Prometheus metrics port (0: off)")
    run.add_argument("--liveness-port", type=int, default=8080, help="liveness endpoint port, /healthz (0: off)")
    run.add_argument(
        "--log-format",
        choices=["json", "text"],
        default="json" if os.environ.get("KUBERNETES_SERVICE_HOST") else "text",
        help="log format (default: json in a cluster, text elsewhere)",
    )
    run.add_argument("--peering", help="Kopf peering name for HA (omit to run standalone)")
    run.add_argument("--priority", type=int, default=0, help="Kopf peering priority; give each replica its own")

    sandbox = commands.add_parser("sandbox", help="a local kube-apiserver + etcd on 127.0.0.1")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    up = sandbox_commands.add_parser("up", help="start the sandbox (foreground until Ctrl-C, or --detach)")
    up.add_argument("--detach", action="store_true", help="leave it running; stop it with `graygate sandbox down`")
    up.add_argument("--workloads", action="store_true", help="also run controllers so Deployments become Available")
    up.add_argument("--crd", action="append", type=Path, default=[], help="extra CRD file to install")
    for sub in (up, sandbox_commands.add_parser("down", help="stop a detached sandbox")):
        sub.add_argument("--dir", type=Path, default=DEFAULT_SANDBOX_DIR, help="the sandbox's work folder")
    env = sandbox_commands.add_parser("env", help="print the shell line that points kubectl at the sandbox")
    env.add_argument("--dir", type=Path, default=DEFAULT_SANDBOX_DIR)
    return parser


def _sandbox(args: argparse.Namespace) -> int:
    from graygate.sandbox import ControlPlane, ControlPlaneSettings
    from graygate.sandbox.controlplane import read_state, stop_detached

    if args.sandbox_command == "down":
        stopped = stop_detached(args.dir)
        print(f"sandbox: stopped {', '.join(stopped)}" if stopped else f"sandbox: nothing running in {args.dir}")
        return 0
    if args.sandbox_command == "env":
        state = read_state(args.dir)
        if state is None:
            raise GraygateError(f"no sandbox is running in {args.dir}: start one with `graygate sandbox up --detach`")
        print(f"export KUBECONFIG={state['kubeconfig']}")
        return 0

    if read_state(args.dir) is not None:
        raise GraygateError(f"a sandbox already runs in {args.dir}: stop it with `graygate sandbox down`")
    settings = ControlPlaneSettings(workdir=args.dir, workloads=args.workloads, crd_files=tuple(args.crd))
    plane = ControlPlane(settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plane.start()
    versions = ", ".join(f"{name} {version}" for name, version in plane.versions.items())
    print(f"sandbox: {versions} ready on {plane.server} in {plane.startup_seconds:.1f} s")
    print(f"sandbox: export KUBECONFIG={plane.kubeconfig}")
    print("sandbox: try `kubectl get crds` or `kubectl get virtualservices -A`")
    if args.detach:
        plane.detach()
        print("sandbox: detached; stop it with `graygate sandbox down`")
        return 0
    print("sandbox: Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nsandbox: stopping")
    finally:
        plane.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.tick_interval <= 0:
        raise GraygateError("--tick-interval must be a positive number of seconds")
    if args.kubeconfig is not None:
        if not args.kubeconfig.is_file():
            raise GraygateError(f"no kubeconfig at {args.kubeconfig}")
        # Kopf logs in through the kubernetes client, which reads KUBECONFIG once, when it is first imported.
        os.environ["KUBECONFIG"] = str(args.kubeconfig)

    from graygate.handlers import run
    from graygate.wiring import OperatorSettings

    run(
        OperatorSettings(
            kubeconfig=args.kubeconfig,
            namespaces=tuple(args.namespace),
            tick_interval_s=args.tick_interval,
            listen_address=args.listen_address,
            metrics_port=args.metrics_port,
            liveness_port=args.liveness_port,
            log_format=args.log_format,
            peering=args.peering,
            priority=args.priority,
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "sandbox":
            return _sandbox(args)
    except GraygateError as error:
        if args.debug:
            raise
        print(f"graygate: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
