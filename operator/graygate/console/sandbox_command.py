"""`graygate sandbox up|down|env`: the local control plane from the command line (its engine is
`graygate.sandbox`, an optional extra)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from graygate.errors import GraygateError


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


SANDBOX_EXTRA = ("cryptography",)
"""What `pip install graygate[sandbox]` adds (pyproject.toml): the operator runs without it, its image has none."""


def run_sandbox(args: argparse.Namespace, default_dir: Path) -> int:
    try:
        from graygate.sandbox import ControlPlane, ControlPlaneSettings
        from graygate.sandbox.controlplane import SandboxRunningError, reclaim
        from graygate.sandbox.state import remove_data, stop_detached, survey
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in SANDBOX_EXTRA:
            raise
        raise GraygateError(
            f"`graygate sandbox` needs {error.name}, which this installation lacks: install it with "
            "`pip install 'graygate[sandbox]'`"
        ) from error

    where = "" if args.dir == default_dir else f" --dir {args.dir}"
    if args.sandbox_command == "down":
        report = stop_detached(args.dir)
        for note in report.notes if report else []:
            _say(f"sandbox: {note}")
        if report is None:
            print(f"sandbox: nothing running in {args.dir}")
        elif not report.stopped:
            print(f"sandbox: nothing running in {args.dir} (the sandbox had stopped); removed its data")
        else:
            print(f"sandbox: stopped {', '.join(report.stopped)}")
        return 0
    if args.sandbox_command == "env":
        found = survey(args.dir)
        if found is None or not found.named("ours"):
            raise GraygateError(f"no sandbox is running in {args.dir}: start one with `graygate sandbox up --detach`")
        print(f"export KUBECONFIG={found.state.kubeconfig}")
        return 0

    try:
        left = reclaim(args.dir)
    except SandboxRunningError as error:
        raise GraygateError(
            f'{error}: use it with `eval "$(graygate sandbox env{where})"`, or stop it with '
            f"`graygate sandbox down{where}` first"
        ) from error
    if left is not None:
        stopped = f"; stopped what was left of it ({', '.join(left.stopped)})" if left.stopped else ""
        _say(f"sandbox: the sandbox last started in {args.dir} no longer answered{stopped}; starting afresh")
        for note in left.notes:
            _say(f"sandbox: {note}")
    settings = ControlPlaneSettings(
        workdir=args.dir, workloads=args.workloads, istiod=args.istiod, crd_files=tuple(args.crd)
    )
    plane = ControlPlane(settings, progress=lambda step: _say(f"sandbox: {step}…"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plane.start()
    versions = ", ".join(f"{name} {version}" for name, version in plane.versions.items())
    print(f"sandbox: {versions} ready on {plane.server} in {plane.startup_seconds:.1f} s")
    print(f"sandbox: export KUBECONFIG={plane.kubeconfig}")
    if plane.istiod is not None:
        print(f"sandbox: istiod serves xDS on {plane.istiod.xds_address}, its debug pages on {plane.istiod.debug_url}")
    print("sandbox: try `kubectl get crds` or `kubectl get canaryreleases,virtualservices -A`")
    if args.detach:
        plane.detach()
        print(f"sandbox: detached; stop it with `graygate sandbox down{where}`")
        return 0
    print("sandbox: Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nsandbox: stopping")
    finally:
        plane.stop()
        remove_data(plane.workdir, folder=True)
    return 0
