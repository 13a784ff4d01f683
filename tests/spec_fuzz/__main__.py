"""`make fuzz` (`python -m tests.spec_fuzz`): generated CanaryRelease specs against a fresh sandbox API server with
the operator running, then the CRD's CEL rules against the API server's cost budgets. Prints the counts and exits 1
on any violation, or when the run is over its time limit. Every process it starts is stopped on the way out."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from kubernetes import client, config

from graygate.sandbox import ControlPlane, ControlPlaneSettings
from tests.cluster_support import OperatorProcess, ProbeTarget
from tests.spec_fuzz.cel_cost import admit_largest, install_warnings, summary
from tests.spec_fuzz.generation import generate_cases
from tests.spec_fuzz.run import run

NAMESPACE = "fuzz"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.spec_fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="specs to apply (default 1000)")
    parser.add_argument("--seed", type=int, help="replay a run: the seed it printed (default: a new one)")
    parser.add_argument("--workers", type=int, default=8, help="specs in flight at once (default 8)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds the whole run may take (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the operator's log) after a run")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 5000:
        parser.error("--count must be between 1 and 5000")
    if not 1 <= args.workers <= 32:
        parser.error("--workers must be between 1 and 32")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {seed} (replay: make fuzz FUZZ_ARGS='--seed {seed} --count {args.count}')", flush=True)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="graygate-fuzz-"))
    target = ProbeTarget()
    violations: list[str] = []
    try:
        cases = generate_cases(args.count, seed, target.url)
        print(f"generated {len(cases)} specs in {time.monotonic() - began:.0f} s", flush=True)
        # No istiod and no workload controllers: the operator reads and writes VirtualServices through the API
        # server alone, and the two cores go to the API server and the operator.
        with ControlPlane(ControlPlaneSettings(istiod=False)) as plane:
            print(f"sandbox up in {plane.startup_seconds:.1f} s", flush=True)
            api = config.new_client_from_config(config_file=str(plane.kubeconfig))  # type: ignore[no-untyped-call]
            with api:
                client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
                client.CoreV1Api(api).create_namespace({"metadata": {"name": "cost"}})
                operator = OperatorProcess(plane.kubeconfig, NAMESPACE, workdir / "operator.log", 0.5)
                operator.start()
                try:
                    step = max(1, len(cases) // 10)
                    report = run(
                        plane.kubeconfig, NAMESPACE, operator, cases, args.workers,
                        lambda done: done % step == 0 and print(f"  {done} applied", flush=True),
                    )  # fmt: skip
                finally:
                    operator.stop()
                cost = summary(install_warnings(api), admissions := admit_largest(api, "cost"))
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    finally:
        target.close()
    elapsed = time.monotonic() - began
    print(f"\ngenerated specs: seed {seed}, {args.workers} workers, {elapsed:.0f} s in all")
    print("\n".join(report.lines()))
    print("\nCEL cost, measured by the API server:")
    print("\n".join(f"  {line}" for line in cost))
    violations = report.violations()
    violations += [f"largest {seen.routing} release refused: {seen.answer}" for seen in admissions if not seen.admitted]
    violations += [f"CRD install warning: {line}" for line in cost[1:] if line.startswith("    ")]
    if elapsed > args.time_limit:
        violations.append(f"the run took {elapsed:.0f} s, over its limit of {args.time_limit:.0f} s")
    print(f"\nviolations: {len(violations)}")
    for violation in violations[:50]:
        print(f"  {violation}")
    if violations or args.keep:
        print(f"operator log kept in {workdir / 'operator.log'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
