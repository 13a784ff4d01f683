"""`python -m e2e.demo` (what `make run` runs): the demo story in a local sandbox, or only the operator when
KUBECONFIG points at a cluster that answers.

    python -m e2e.demo                      a terminal: live views redrawn in place; a pipe: plain lines
    python -m e2e.demo --non-interactive    plain lines, for CI and logs (also GRAYGATE_DEMO_PLAIN=1)
    GRAYGATE_DEMO=1 python -m e2e.demo      the demo even when KUBECONFIG is set
    python -m e2e.demo --needs-sandbox      exit 0 when the demo would run (make run then builds the toolchain)

Exit codes: 0 the story was told, 1 it could not be (the message says where the logs are), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from e2e.demo.epilogue import epilogue
from e2e.demo.narrate import Narrator
from e2e.demo.story import Figures, tell
from e2e.demo.world import DemoError, DemoSettings, control_plane, running_world
from e2e.lab import LabError
from graygate.errors import GraygateError
from graygate.sandbox import ControlPlane


def cluster_answers(kubeconfig: str) -> bool:
    """True when the kubeconfig's current cluster answers `/version` within a few seconds."""
    from kubernetes import client

    from graygate.kube.client import api_client

    try:
        with api_client(Path(kubeconfig)) as api:
            client.VersionApi(api).get_code(_request_timeout=3)
    except Exception:
        return False
    return True


def choose(env: Mapping[str, str], answers: Callable[[str], bool]) -> tuple[str, str]:
    """("demo" | "operator", why): the demo unless KUBECONFIG names a cluster that answers and GRAYGATE_DEMO is off."""
    if env.get("GRAYGATE_DEMO", "") not in ("", "0"):
        return "demo", "GRAYGATE_DEMO is set"
    kubeconfig = env.get("KUBECONFIG", "")
    if not kubeconfig:
        return "demo", "no KUBECONFIG is set"
    if not answers(kubeconfig.split(os.pathsep)[0]):
        return "demo", f"the cluster of KUBECONFIG={kubeconfig} does not answer"
    return "operator", f"KUBECONFIG={kubeconfig} points at a cluster that answers"


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP end the demo as Ctrl-C does, through the same clean-up."""
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda *_: signal.raise_signal(signal.SIGINT))


def run_demo(interactive: bool) -> int:
    say = Narrator(interactive=interactive)
    workdir = Path(tempfile.mkdtemp(prefix="graygate-demo-"))
    logging.basicConfig(filename=workdir / "demo.log", level=logging.INFO)
    settings = DemoSettings(workdir=workdir)
    started = time.monotonic()
    figures = Figures()
    try:
        say.chapter("0. A local cluster, one service in Git, real traffic")
        with control_plane(settings, say) as plane:
            asyncio.run(_story(plane, settings, say, figures, started))
    except KeyboardInterrupt:
        say.say("\ninterrupted: every process the demo started has been stopped")
        shutil.rmtree(workdir, ignore_errors=True)
        return 130
    except (DemoError, GraygateError, LabError) as error:
        say.say(f"\nthe demo stopped: {error}\nlogs: {workdir}")
        return 1
    say.chapter("What you saw")
    say.say(epilogue(figures, time.monotonic() - started))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


async def _story(plane: ControlPlane, settings: DemoSettings, say: Narrator, figures: Figures, started: float) -> None:
    async with running_world(plane, settings, say, started) as world:
        await tell(world, say, figures)


def run_operator(why: str) -> int:
    print(f"make run: {why}: running only the operator (GRAYGATE_DEMO=1 runs the demo instead)", flush=True)
    graygate = shutil.which("graygate") or "graygate"
    os.execvp(graygate, [graygate, "run"])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--non-interactive", action="store_true", help="plain output, no redrawing (CI)")
    parser.add_argument(
        "--needs-sandbox",
        action="store_true",
        help="only say (exit 0) whether the demo will run, i.e. the local toolchain is needed, or not (exit 1)",
    )
    args = parser.parse_args()
    mode, why = choose(os.environ, cluster_answers)
    if args.needs_sandbox:
        return 0 if mode == "demo" else 1
    if mode == "operator":
        return run_operator(why)
    plain = args.non_interactive or os.environ.get("GRAYGATE_DEMO_PLAIN", "") not in ("", "0")
    _interrupt_on_termination()
    print(f"graygate demo ({why}); Ctrl-C stops it and everything it started", flush=True)
    return run_demo(interactive=sys.stdout.isatty() and not plain)


if __name__ == "__main__":
    sys.exit(main())
