"""What `make bench-scale` (e2e/bench_scale.py) makes of a size once it has run: the releases' settled counts, the
audit log's figures and the final report; over data only, no process or server."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from e2e import scale_figures as sf


def settled_counts(items: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        kind = sf.kind_of(item["metadata"]["name"])
        status = item.get("status") or {}
        phase, step, weight = status.get("phase"), status.get("currentStepIndex", 0), status.get("canaryWeight", 0)
        ok = (
            (kind == sf.FINISHED and phase == "Succeeded")
            or (kind == sf.PAUSED and phase == "Paused")
            or (kind == sf.WAITING and weight == 10 and status.get("lastVerdict") == "Pass")
            or (kind == sf.MOVING and step >= 1)
        )
        counts[kind] = counts.get(kind, 0) + int(ok)
    return counts


def audit_figures(
    figures: sf.Figures, audit: Path, window: tuple[float, float], releases: Sequence[dict[str, Any]]
) -> None:
    with audit.open(errors="replace") as lines:
        requests = sf.read_audit(lines)
    start, end = window
    history_steps = 0
    dues: list[sf.Due] = []
    for item in releases:
        name = item["metadata"]["name"]
        if sf.kind_of(name) != sf.MOVING:
            continue
        history = (item.get("status") or {}).get("history", [])
        dues += [d for d in sf.pauses_due(name, history, item["spec"]["steps"]) if d.at >= start]
        history_steps += len([e for e in history if start <= sf.timestamp(str(e["at"])) < end])
    delays = sf.step_delays(
        dues, sf.route_writes(requests), until=max(r.completed for r in requests) if requests else end
    )
    figures.step_p99_s = sf.percentile(delays, 99)
    figures.steps_measured = len(delays)
    mix = sf.mix(figures.releases)
    figures.api = sf.api_load(requests, start, end, mix.paused + mix.finished, history_steps)
    print(
        f"  audit: {len(requests):,} operator requests; steps measured {len(delays)} "
        f"(p50 {sf.value_text(sf.percentile(delays, 50), 's')}, p99 {sf.value_text(figures.step_p99_s, 's')}, "
        f"max {sf.value_text(max(delays) if delays else None, 's')}); in the window per verb {figures.api.by_verb}",
        flush=True,
    )


def report(results: Sequence[sf.Figures], args: argparse.Namespace) -> str:
    lines = [
        f"bench-scale on {os.cpu_count()} cores, {dt.datetime.now(dt.UTC):%Y-%m-%d}: operator tick {args.tick:g} s, "
        f"steady window {args.window:g} s",
        "bad canary: an httpProbe gate (1 s interval, failureLimit 0) against a local server turned to 500, NOT the "
        "traffic lab (real Envoy via istiod): that variant is still to do",
        sf.table(results),
        "",
    ]
    for figures in results:
        api = figures.api
        lines.append(
            f"{figures.releases:,} releases: settled {figures.settled or '-'}; rollback alone "
            f"{sf.value_text(figures.rollback_alone_s, 's')}, loaded {sf.value_text(figures.rollback_loaded_s, 's')}; "
            f"steps measured {figures.steps_measured}"
            + ("" if api is None else f"; requests in the window per verb {api.by_verb}")
        )
        lines += [f"  note: {note}" for note in figures.notes]
    missed = sf.missed(results)
    lines.append(
        "PASS: every goal met"
        if not missed
        else f"FAIL: {len(missed)} goal(s) missed (checked up to {sf.GOAL_SIZE:,} releases)"
    )
    return "\n".join(lines)
