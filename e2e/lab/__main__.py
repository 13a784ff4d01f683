"""`python -m e2e.lab`: bring the traffic lab up by hand, print its addresses, and keep it up for a bounded time. This
is the shim-driven lab (no API server, no istiod; the weights are translated by shim.py), as tests/lab use it.

python -m e2e.lab --weights stable=90,canary=10 --prometheus --for 300
curl -si $ENTRY/ | grep x-served-by;  curl -XPOST -d '{"error_rate": 0.5}' $CANARY_ADMIN
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .lab import TrafficLab


def _weights(text: str) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {name: int(weight) for name, weight in pairs}


async def _main(args: argparse.Namespace) -> None:
    weights = _weights(args.weights)
    async with TrafficLab(versions=tuple(weights), prometheus=args.prometheus, keep_workdir=True) as lab:
        await lab.apply_virtualservice(TrafficLab.weighted_virtualservice(weights))
        print(f"entry       {lab.entry_url}")
        print(f"envoy admin {lab.envoy.admin_url}")
        print(f'callers     {lab.callers.url}/metrics   (reporter="source", from {lab.envoy.access_log_path})')
        for v in lab.versions:
            print(f"{v:<11} {lab.backend_url(v)}   knobs: {lab.admin_url(v)}")
        if args.prometheus:
            print(f"prometheus  {lab.prometheus_url}")
        print(f"logs        {lab.workdir}")
        print(f"started in  {lab.started_in_s}; up for {args.for_s:.0f} s (Ctrl-C stops)", flush=True)
        deadline = asyncio.get_running_loop().time() + args.for_s
        while asyncio.get_running_loop().time() < deadline:
            lab.check()
            await asyncio.sleep(1.0)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m e2e.lab", description="graygate traffic lab, by hand")
    p.add_argument("--weights", default="stable=90,canary=10", help="version=weight,... (also names the backends)")
    p.add_argument("--prometheus", action="store_true")
    p.add_argument("--for", dest="for_s", type=float, default=600.0, help="seconds to stay up (bounded)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
