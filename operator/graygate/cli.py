"""The `graygate` command (also installed as `kubectl-graygate`).

Errors reach the user as one sentence saying what to do next, and Ctrl-C stops a command with exit code 130 (as a
shell reports SIGINT); `--debug` shows the traceback of either. What a command waits on is said on stderr, so its
stdout stays what a script parses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graygate.console.commands import (
    VersionAction,
    add_status_commands,
    error_exit_code,
    run_status_command,
    share_debug,
)
from graygate.errors import GraygateError

DEFAULT_SANDBOX_DIR = Path(os.environ.get("GRAYGATE_SANDBOX_DIR", Path.home() / ".cache" / "graygate" / "sandbox"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graygate", description="Canary releases for Istio, gated and reverted.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action=VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[], help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    run.add_argument(
        "--tick-interval", type=float, default=1.0, help="the least seconds between two ticks of a release"
    )
    run.add_argument(
        "--io-threads", type=int, default=32, help="threads for the blocking API server and etcd calls (default 32)"
    )
    run.add_argument(
        "--resync-interval",
        type=float,
        default=300.0,
        help="the most seconds between two ticks of a release (one at rest ticks this often; events wake it sooner)",
    )
    run.add_argument("--listen-address", default="127.0.0.1", help="address of the metrics and liveness endpoints")
    run.add_argument("--metrics-port", type=int, default=8081, help="Prometheus metrics port (0: off)")
    run.add_argument("--liveness-port", type=int, default=8080, help="liveness endpoint port, /healthz (0: off)")
    run.add_argument(
        "--log-format",
        choices=["json", "text"],
        default="json" if os.environ.get("KUBERNETES_SERVICE_HOST") else "text",
        help="log format (default: json in a cluster, text elsewhere)",
    )
    run.add_argument(
        "--prometheus-address",
        default=os.environ.get("GRAYGATE_PROMETHEUS_URL"),
        help="Prometheus for gates that name no source, e.g. http://prom:9090 (env GRAYGATE_PROMETHEUS_URL)",
    )
    run.add_argument(
        "--prometheus-credentials-dir",
        type=Path,
        default=os.environ.get("GRAYGATE_PROMETHEUS_CREDENTIALS_DIR"),
        help="folder with the --prometheus-address login: a file `token` (bearer), or `username` and `password`"
        " (basic auth), and optionally `ca.crt`; re-read at every analysis, never sent to an address a gate names"
        " (env GRAYGATE_PROMETHEUS_CREDENTIALS_DIR)",
    )
    run.add_argument(
        "--probe-url-allowlist",
        default=os.environ.get("GRAYGATE_PROBE_URL_ALLOWLIST"),
        help="comma-separated URL prefixes gates may call, e.g. http://*.shop.svc:8080/,https://pay.svc/api:"
        " scheme, host (*.domain for any subdomain), port and path under; other URLs are refused before any"
        " request (default: no restriction; env GRAYGATE_PROBE_URL_ALLOWLIST)",
    )
    run.add_argument(
        "--etcd-endpoints",
        default=os.environ.get("GRAYGATE_ETCD_ENDPOINTS"),
        help="etcd endpoints, comma-separated, for the freeze switch: host:port or http(s)://host:port; https://"
        " needs --etcd-tls-dir with ca.crt (env GRAYGATE_ETCD_ENDPOINTS)",
    )
    run.add_argument(
        "--etcd-tls-dir",
        type=Path,
        default=os.environ.get("GRAYGATE_ETCD_TLS_DIR"),
        help="folder with ca.crt (and tls.crt, tls.key) for etcd (env GRAYGATE_ETCD_TLS_DIR)",
    )
    run.add_argument("--freeze-key", default="/graygate/freeze", help="the etcd key that freezes every release")
    run.add_argument("--peering", help="Kopf peering name for HA (omit to run standalone)")
    run.add_argument("--priority", type=int, default=0, help="Kopf peering priority; give each replica its own")
    run.add_argument(
        "--peering-lifetime", type=int, default=60, metavar="SECONDS",
        help="how long a peer's keep-alive is valid: a standby takes over at most this long after the active died",
    )  # fmt: skip
    run.add_argument(
        "--shard", default="default",
        help="serve only releases labelled graygate.dev/shard=SHARD (default: those without the label)",
    )  # fmt: skip

    get = commands.add_parser("get", help="show releases: a table, one release in detail, or a live view")
    get.add_argument("name", nargs="?", help="one release, in detail")
    _add_cluster_flags(get, all_namespaces=True)
    get.add_argument("--watch", "-w", action="store_true", help="keep redrawing (Ctrl-C stops)")
    get.add_argument(
        "--until-done",
        action="store_true",
        help="with --watch: stop once the release has finished, with `graygate status`'s exit codes",
    )
    get.add_argument(
        "--timeout", metavar="D", help="with --until-done: give up after D (e.g. 90s, 30m, 1h) with exit code 3"
    )
    get.add_argument(
        "--output",
        "-o",
        choices=["view", "wide", "json", "yaml"],
        default="view",
        help="view: 80 columns; wide: nothing clipped, more columns; json/yaml: the whole objects",
    )

    for action, text in [
        ("promote", "finish the current step now (--full: straight to 100%% and Succeeded)"),
        ("pause", "hold a Progressing release where it is"),
        ("resume", "continue a Paused release"),
        ("abort", "put all traffic back on stable and stop"),
        ("retry", "start a Failed or Aborted release again"),
    ]:
        control = commands.add_parser(action, help=text)
        control.add_argument("name")
        _add_cluster_flags(control)
        if action == "promote":
            control.add_argument("--full", action="store_true", help="skip the remaining steps")
        control.add_argument("--no-wait", action="store_true", help="do not wait for the operator to handle it")
        control.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the operator")

    lint = commands.add_parser("lint", help="validate CanaryRelease manifests offline: every problem, with its line")
    lint.add_argument("files", nargs="+", metavar="PATH", help="a file, a directory (its *.yaml, *.yml) or - (stdin)")
    lint.add_argument("--strict", action="store_true", help="exit 2 when there are warnings but no errors")
    _add_template_flags(lint)

    check = commands.add_parser("check", help="run a release's gates once, here, and say if the canary passes")
    check.add_argument("manifest", help="a file holding one CanaryRelease, or - for standard input")
    check.add_argument("--url", action="append", default=[], metavar="NAME=URL", help="point a gate or hook elsewhere")
    check.add_argument("--prometheus", metavar="URL", help="query this Prometheus, without credentials")
    check.add_argument("--etcd", metavar="ENDPOINTS", help="etcd host:port,… for every gate that talks to etcd")
    check.add_argument("--namespace", "-n", help="the release's namespace (default: the manifest's, or default)")
    check.add_argument("--format", choices=["human", "json"], default="human")
    check.add_argument(
        "--templates", action="append", default=[], type=Path, metavar="FILE", help="gate templates the release uses"
    )
    _add_template_flags(check)

    sandbox = commands.add_parser(
        "sandbox",
        help="a local kube-apiserver + etcd on 127.0.0.1",
        description="A local kube-apiserver + etcd on 127.0.0.1, its files in one work folder (--dir, default "
        f"{DEFAULT_SANDBOX_DIR}, or GRAYGATE_SANDBOX_DIR). Every `up` starts an empty cluster: nothing is kept from "
        "an earlier sandbox, and one that crashed is cleaned up first. `down` (or Ctrl-C without --detach) stops it "
        "and removes its data: etcd's, the certificates and keys, the kubeconfig and its logs.",
    )
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    up = sandbox_commands.add_parser("up", help="start an empty sandbox (foreground until Ctrl-C, or --detach)")
    up.add_argument("--detach", action="store_true", help="leave it running; stop it with `graygate sandbox down`")
    up.add_argument("--workloads", action="store_true", help="also run controllers so Deployments become Available")
    up.add_argument(
        "--no-istiod",
        dest="istiod",
        action="store_false",
        help="do not run istiod (Istio's control plane and validating webhook; on by default)",
    )
    up.add_argument(
        "--crd", action="append", type=Path, default=[], help="another CRD file (Istio's, Gateway API's, ours are in)"
    )
    down = sandbox_commands.add_parser("down", help="stop a detached sandbox and remove its data")
    for sub in (up, down):
        sub.add_argument("--dir", type=Path, default=DEFAULT_SANDBOX_DIR, help="the sandbox's work folder")
    env = sandbox_commands.add_parser("env", help="print the shell line that points kubectl at the sandbox")
    env.add_argument("--dir", type=Path, default=DEFAULT_SANDBOX_DIR)
    add_status_commands(commands, _add_cluster_flags)
    share_debug(parser)
    return parser


def _add_cluster_flags(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument("--namespace", "-n", help="the namespace (default: the kubeconfig's)")
    if all_namespaces:
        parser.add_argument("--all-namespaces", "-A", action="store_true", help="every namespace")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="the kubeconfig context to use (default: its current-context)")


RECURSION_LIMIT = 25_000
"""Python's recursion limit wherever graygate reads objects from the API server. The API server accepts JSON nested
10,000 levels deep (in a field it keeps as free JSON), and every client decodes whole objects, Kopf's watch included;
Python's default (1,000) made one such release end the operator with a RecursionError at every start. 10,000 levels
decode and encode within 2 MiB of a thread's stack (Linux gives 8 MiB); the spec itself is refused as Invalid at 64
levels (`api.validation.nesting_problem`)."""


def _read_deep_objects() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))


def _cluster(args: argparse.Namespace) -> tuple[Any, str]:
    from graygate.kube.client import api_client, current_namespace

    _read_deep_objects()
    return (
        api_client(args.kubeconfig, args.context),
        args.namespace or current_namespace(args.kubeconfig, args.context),
    )


def _get(args: argparse.Namespace) -> int:
    from graygate.console.get import GetRequest, run_get
    from graygate.console.status import parse_duration

    timeout = parse_duration(args.timeout) if args.timeout is not None else None
    api, namespace = _cluster(args)
    request = GetRequest(
        namespace=None if getattr(args, "all_namespaces", False) and not args.name else namespace,
        name=args.name,
        output=args.output,
        watch=args.watch,
        until_done=args.until_done,
        timeout_s=timeout,
    )
    return run_get(api, request)


def _control(args: argparse.Namespace) -> int:
    from graygate.api import Action
    from graygate.console.controls import send_command, wait_handled
    from graygate.kube.releases import KubeReleases

    action = Action.PROMOTE_FULL if getattr(args, "full", False) else Action(args.command)
    api, namespace = _cluster(args)
    releases = KubeReleases(api)
    value = send_command(releases, namespace, args.name, action, datetime.now(UTC))
    print(f"{action.value}: sent to {namespace}/{args.name} as {value}")
    if args.no_wait:
        return 0
    _say(f"{action.value}: waiting for the operator to take the command (up to {args.timeout:.0f} s)…")
    record = wait_handled(releases, namespace, args.name, value, args.timeout)
    if record is None:
        raise GraygateError(
            f"the operator did not handle {value} within {args.timeout:.0f} s: is `graygate run` watching "
            f"namespace {namespace}? (`kubectl get canaryrelease {args.name} -o yaml` shows status.lastCommand)"
        )
    print(f"{action.value}: {record.result.lower()}: {record.message}")
    return 0 if record.result == "Applied" else 1


def _add_template_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", action="store_true", help="read gate templates no file defines from the cluster")
    parser.add_argument("--kubeconfig", type=Path, help="with --cluster: the cluster's kubeconfig")
    parser.add_argument("--context", help="with --cluster: the kubeconfig context to use")


def _lint(args: argparse.Namespace) -> int:
    """Exit 0 clean (warnings allowed), 1 errors, 2 only warnings with --strict."""
    from graygate.console.lint_cli import run_lint
    from graygate.console.templates import cluster_templates

    cluster = cluster_templates(args.kubeconfig, args.context) if args.cluster else None
    return run_lint(args.files, strict=args.strict, cluster=cluster)


def _check(args: argparse.Namespace) -> int:
    """Exit 0 pass, 1 fail, 2 could not judge (a bad manifest or flag included)."""
    from graygate.console.check import parse_url_override, render_human, render_json
    from graygate.console.check_run import CheckRequest, run_check
    from graygate.console.templates import cluster_templates

    try:
        text = sys.stdin.read() if args.manifest == "-" else Path(args.manifest).read_text()
        request = CheckRequest(
            manifest_text=text,
            source=args.manifest,
            urls=tuple(parse_url_override(value) for value in args.url),
            prometheus=args.prometheus,
            namespace=args.namespace,
            etcd=tuple(e for e in (args.etcd or "").split(",") if e),
            templates=tuple(path.read_text() for path in args.templates),
            cluster=cluster_templates(args.kubeconfig, args.context) if args.cluster else None,
        )
        report = run_check(request)
    except (OSError, GraygateError) as error:
        print(f"graygate check: {error}", file=sys.stderr)
        return 2
    print(render_json(report) if args.format == "json" else render_human(report, color=sys.stdout.isatty()))
    return report.exit_code


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    _read_deep_objects()
    if args.tick_interval <= 0:
        raise GraygateError("--tick-interval must be a positive number of seconds")
    if args.resync_interval < args.tick_interval:
        raise GraygateError("--resync-interval must be at least --tick-interval")
    if args.io_threads < 1:
        raise GraygateError("--io-threads must be at least 1")
    if args.kubeconfig is not None:
        if not args.kubeconfig.is_file():
            raise GraygateError(f"no kubeconfig at {args.kubeconfig}")
        # Kopf logs in through the kubernetes client, which reads KUBECONFIG once, when it is first imported.
        os.environ["KUBECONFIG"] = str(args.kubeconfig)

    from graygate.domain.release.shards import check_shard_name
    from graygate.domain.url_allowlist import UrlAllowlist
    from graygate.handlers import run
    from graygate.wiring import OperatorSettings

    try:
        allowlist = UrlAllowlist.parse(args.probe_url_allowlist)
    except ValueError as error:
        raise GraygateError(f"--probe-url-allowlist: {error}") from error
    if args.peering_lifetime < 2:
        raise GraygateError("--peering-lifetime must be at least 2 seconds")
    try:
        shard = check_shard_name(args.shard)
    except ValueError as error:
        raise GraygateError(f"--shard: {error}") from error
    credentials = args.prometheus_credentials_dir
    if credentials is not None and not credentials.is_dir():
        raise GraygateError(f"--prometheus-credentials-dir: no folder at {credentials}")
    run(
        OperatorSettings(
            kubeconfig=args.kubeconfig,
            namespaces=tuple(args.namespace),
            tick_interval_s=args.tick_interval,
            resync_interval_s=args.resync_interval,
            io_threads=args.io_threads,
            listen_address=args.listen_address,
            metrics_port=args.metrics_port,
            liveness_port=args.liveness_port,
            log_format=args.log_format,
            prometheus_address=args.prometheus_address,
            prometheus_credentials_dir=credentials,
            probe_url_allowlist=allowlist,
            etcd=_etcd_settings(args.etcd_endpoints, args.etcd_tls_dir),
            freeze_key=args.freeze_key,
            peering=args.peering,
            priority=args.priority,
            peering_lifetime_s=args.peering_lifetime,
            shard=shard,
        )
    )
    return 0


def _etcd_settings(endpoints: str | None, tls_dir: Path | None) -> Any:
    from graygate.store import EtcdSettings

    if not endpoints:
        return None
    listed = tuple(endpoint.strip() for endpoint in endpoints.split(",") if endpoint.strip())
    if tls_dir is None:
        return EtcdSettings(endpoints=listed)
    files = ("ca.crt", "tls.crt", "tls.key")
    present = {name: tls_dir / name if (tls_dir / name).is_file() else None for name in files}
    return EtcdSettings(
        endpoints=listed, ca_file=present["ca.crt"], cert_file=present["tls.crt"], key_file=present["tls.key"]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "get":
            return _get(args)
        if args.command in {"promote", "pause", "resume", "abort", "retry"}:
            return _control(args)
        if args.command == "lint":
            return _lint(args)
        if args.command == "check":
            return _check(args)
        if args.command in {"status", "completion"}:
            return run_status_command(args, _cluster, _parser)
        if args.command == "sandbox":
            from graygate.console.sandbox_command import run_sandbox

            return run_sandbox(args, DEFAULT_SANDBOX_DIR)
    except KeyboardInterrupt:
        if args.debug:
            raise
        return 130
    except GraygateError as error:
        if args.debug:
            raise
        print(f"graygate: {error}", file=sys.stderr)
        return error_exit_code(args)
    except Exception as error:
        if args.debug:
            raise
        print(f"graygate: unexpected {type(error).__name__}: {error} (rerun with --debug for details)", file=sys.stderr)
        return error_exit_code(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
