"""The parser's wiring for `graygate status` and `graygate completion`, the `--debug` flag every subcommand shares,
and `--version`: kept out of `graygate.cli` so it stays the parser of the older commands and the dispatch.

Imported whenever `graygate` starts, so it imports nothing heavy: each command's module is imported when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib import metadata
from typing import Any

__all__ = [
    "COULD_NOT_TELL",
    "VersionAction",
    "add_status_commands",
    "error_exit_code",
    "run_status_command",
    "share_debug",
    "version_line",
]

COULD_NOT_TELL = 4
"""`status`'s (and `get --watch --until-done`'s) exit code for an error: 1 there means "rolled back"."""

ClusterFlags = Callable[..., None]
Cluster = Callable[[argparse.Namespace], tuple[Any, str]]


def version_line() -> str:
    """`graygate 0.1.0 (API graygate.dev/v1alpha1)`: the installed package's version and the API it speaks."""
    from graygate.api.resource import API_VERSION

    try:
        version = metadata.version("graygate")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    return f"graygate {version} (API {API_VERSION})"


class VersionAction(argparse.Action):
    """`--version`: prints `version_line()`, computed only when asked (it imports the API package)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and the API version it speaks, and exit")
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_line())
        parser.exit()


def share_debug(parser: argparse.ArgumentParser) -> None:
    """Accept `--debug` after the verb too (`graygate get --debug` as well as `graygate --debug get`), in every
    subcommand at every depth. Its default there is SUPPRESS: a subcommand that was not given `--debug` leaves the
    value set before the verb alone (argparse copies a subparser's defaults over the parent's otherwise)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in {id(p): p for p in action.choices.values()}.values():
                sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
                share_debug(sub)


def add_status_commands(commands: Any, cluster_flags: ClusterFlags) -> None:
    """`status NAME [--timeout D]` and `completion bash|zsh|fish`."""
    status = commands.add_parser(
        "status",
        help="wait for a release's current run to end; exit 0 succeeded, 1 failed, 2 waiting for a human, "
        "3 timed out, 4 could not tell",
        description="Wait until the release's current run ends, printing each transition as it happens, and exit by "
        "its outcome: 0 Succeeded; 1 Failed, Aborted or Invalid; 2 waiting for a human (Paused, or Pending for a "
        "confirmRollout approval: it will not end by itself); 3 the timeout passed first; 4 could not tell (no such "
        "release, no usable kubeconfig or context, a bad --timeout, or the API server still failing at the timeout: "
        "errors in between are retried). The current run is the one of the release's spec as it is now "
        "(status.observedGeneration must reach metadata.generation) and, with spec.workload, of the Deployment's pod "
        "template as it is now (status.revision must be its revision; with trackConfig, of the template and the "
        "ConfigMaps and Secrets it uses).",
    )
    status.add_argument("name", help="the CanaryRelease")
    cluster_flags(status)
    status.add_argument(
        "--timeout",
        default="10m",
        metavar="D",
        help="give up after D (e.g. 90s, 30m, 1h; a plain number is seconds; default 10m) with exit code 3",
    )
    status.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print the completion script of a shell. bash: `source <(graygate completion bash)`; zsh: "
        "`source <(graygate completion zsh)`; fish: `graygate completion fish | source`.",
    )
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])


def error_exit_code(args: argparse.Namespace) -> int:
    """The exit code of a command that failed with an error: 1, except where exit codes are a release's outcomes
    (`status`, `get --watch --until-done`): there 1 means rolled back, so an error is 4, could not tell."""
    until_done = args.command == "get" and getattr(args, "watch", False) and getattr(args, "until_done", False)
    return COULD_NOT_TELL if args.command == "status" or until_done else 1


def run_status_command(
    args: argparse.Namespace, cluster: Cluster, parser: Callable[[], argparse.ArgumentParser]
) -> int:
    if args.command == "completion":
        from graygate.console.completion import script

        print(script(parser(), args.shell), end="")
        return 0
    from graygate.console.status import StatusRequest, parse_duration, run_status

    timeout = parse_duration(args.timeout)
    api, namespace = cluster(args)
    request = StatusRequest(namespace=namespace, name=args.name, timeout_s=timeout, interval_s=args.interval)
    return run_status(api, request)
