"""The verdict lab: the window judge and the sequential judge side by side on the same simulated releases.
`python -m e2e.bench_verdicts` (or `make bench-verdicts`).

    today   the judge main had before the sequential test: a sliding window of `increase()` answers and the
            Newcombe interval (kept in `e2e/verdicts/judge_before.py`)
    new     main's `judge_prometheus`: counts since the step began and an anytime-valid test (`analysis.sequential`)

Why: "rolls back a bad canary fast and a good one never" is two claims that pull against each other, and each is
only meaningful at the other's level. So the lab first measures false rollbacks on identical versions (long
releases checked every second), then CALIBRATES both judges to the same false-rollback target (the lowest
confidence of a small grid whose measured rate stays at or under alpha), and only then compares how fast each
rolls back a bad canary. Releases come from `e2e.verdicts.simulate` with a known truth; the verdicts from
graygate's own rules, fed the answers Prometheus would give (`e2e.verdicts.prometheus_answers`).

Goals, checked at the end (exit 1 when missed):
  1. the new judge's false-rollback rate at its nominal alpha (1 - confidence = 0.05) is at most alpha;
  2. calibrated to the same false-rollback target, the new judge rolls the 10 % canary back at least 2x faster
     (median seconds) than today's.

Runs on both cores (one process per core), every release seeded: the same command prints the same table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from e2e.verdicts.judges import Judge, NewJudge, TodayJudge, Tuning
from e2e.verdicts.runs import replay
from e2e.verdicts.scenarios import CATALOGUE, Planned
from e2e.verdicts.simulate import simulate

GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999)
"""Confidences the calibration searches: the API's whole range (0.5 to 0.999)."""
NOMINAL = 0.95
ALPHA = round(1 - NOMINAL, 3)
SPEEDUP_GOAL = 2.0


@dataclass(frozen=True, slots=True)
class Record:
    """One release under one judge: per check run, when it failed and what users had seen by then."""

    scenario: str
    judge: str
    seed: int
    confidences: tuple[float, ...]
    fail_at: tuple[int | None, ...]
    requests: tuple[int | None, ...]
    """Canary requests served until the failure."""
    failed_users: tuple[int | None, ...]
    """Canary requests that failed for users until the failure."""
    weight: tuple[int | None, ...]
    failed_total: int
    """Canary requests that failed for users over the whole release."""
    paused_at: int | None
    outcomes: tuple[tuple[str, int], ...]


def judges(tuning: Tuning) -> list[Judge]:
    return [TodayJudge(tuning), NewJudge(tuning)]


def _run(
    planned: Planned, seeds: Sequence[int], tuning: Tuning, confidences: Mapping[str, tuple[float, ...]]
) -> list[Record]:
    records: list[Record] = []
    for seed in seeds:
        traffic = simulate(planned.scenario, seed)
        served = _running_sum(traffic.canary_requests)
        failed = _running_sum(traffic.canary_failures)
        for judge in judges(tuning):
            wanted = confidences[judge.name]
            checks = [judge.check(planned.metric, c) for c in wanted]
            result = replay(judge, traffic, planned.metric, checks)
            records.append(
                Record(
                    scenario=planned.scenario.name,
                    judge=judge.name,
                    seed=seed,
                    confidences=wanted,
                    fail_at=tuple(result.fail_at),
                    requests=tuple(None if s is None else served[s] for s in result.fail_at),
                    failed_users=tuple(None if s is None else failed[s] for s in result.fail_at),
                    weight=tuple(None if s is None else planned.scenario.weight_at(s) for s in result.fail_at),
                    failed_total=failed[-1],
                    paused_at=result.paused_at,
                    outcomes=tuple(sorted((str(o), n) for o, n in result.outcomes.items())),
                )
            )
    return records


def _running_sum(values: Sequence[int]) -> list[int]:
    out, total = [], 0
    for value in values:
        total += value
        out.append(total)
    return out


def run_all(
    plans: Sequence[Planned],
    tuning: Tuning,
    confidences: Mapping[str, tuple[float, ...]],
    scale: float,
    pool: ProcessPoolExecutor,
) -> list[Record]:
    """Every seeded release of `plans`, spread over the pool in chunks."""
    futures = []
    for planned in plans:
        count = max(1, round(planned.releases * scale))
        chunk = max(1, count // 8)
        for start in range(0, count, chunk):
            seeds = range(start, min(count, start + chunk))
            futures.append(pool.submit(_run, planned, list(seeds), tuning, confidences))
    return [record for future in futures for record in future.result()]


# --- figures --------------------------------------------------------------------------------------------------


def _of(records: Sequence[Record], scenario: str, judge: str) -> list[Record]:
    return [r for r in records if r.scenario == scenario and r.judge == judge]


def false_rollback_rate(records: Sequence[Record], index: int) -> float:
    return sum(r.fail_at[index] is not None for r in records) / len(records)


def calibrate(identical: Sequence[Record], target: float) -> int:
    """The index of the lowest confidence whose false-rollback rate is at most `target`; the highest when none."""
    for index in range(len(GRID)):
        if false_rollback_rate(identical, index) <= target:
            return index
    return len(GRID) - 1


def _median(values: Sequence[float | None]) -> str:
    seen = [v for v in values if v is not None]
    return f"{statistics.median(seen):g}" if seen else "never"


def _p90(values: Sequence[float | None]) -> str:
    seen = sorted(v for v in values if v is not None)
    return f"{seen[min(len(seen) - 1, int(0.9 * len(seen)))]:g}" if seen else "-"


def _caught(records: Sequence[Record], index: int) -> str:
    hits = sum(r.fail_at[index] is not None for r in records)
    return f"{100 * hits / len(records):.0f} % of {len(records)}"


def _share(part: int, whole: int) -> str:
    return "<1 %" if 0 < 100 * part / whole < 0.5 else f"{100 * part / whole:.0f} %"


def _decision(records: Sequence[Record], *, harm: bool = True) -> str:
    """Rolled back or not, what users saw meanwhile, and the mix of verdicts (pauses are left out: at 1 s checks
    every step opens with `inconclusiveLimit` Inconclusive verdicts, too few requests yet, so all would pause)."""
    fails = [r.fail_at[0] for r in records if r.fail_at[0] is not None]
    failures = [r.failed_users[0] if r.fail_at[0] is not None else r.failed_total for r in records]
    outcomes: Counter[str] = Counter()
    for r in records:
        outcomes.update(dict(r.outcomes))
    total = sum(outcomes.values())
    mix = ", ".join(f"{name} {_share(n, total)}" for name, n in outcomes.most_common())
    done = (
        f"rolled back {len(fails)}/{len(records)}, median {statistics.median(fails):g} s"
        if fails
        else "never rolled back"
    )
    users = f"; failed user requests meanwhile, median {_median(failures)}" if harm else ""
    return f"{done}{users}; verdicts: {mix}"


def report(records: Sequence[Record], calibrated: dict[str, int], target: float, names: Sequence[str]) -> list[str]:
    """The markdown table, one column per judge."""
    rows: list[tuple[str, list[str]]] = []
    nominal = GRID.index(NOMINAL)

    def row(label: str, cell: object) -> None:
        rows.append((label, [cell(name) if callable(cell) else str(cell) for name in names]))

    identical = {name: _of(records, "identical", name) for name in names}
    n_identical = len(identical[names[0]])
    row(
        f"false rollbacks, identical versions ({n_identical} releases x 15 min, checked every second), at confidence "
        f"{NOMINAL} (alpha {ALPHA})",
        lambda n: f"{100 * false_rollback_rate(identical[n], nominal):.2f} %",
    )
    row(
        f"calibrated confidence (lowest of the grid with false rollbacks <= {100 * target:g} %) and its rate",
        lambda n: f"{GRID[calibrated[n]]} ({100 * false_rollback_rate(identical[n], calibrated[n]):.2f} %)",
    )
    ran = {r.scenario for r in records}
    if "boundary" in ran:
        edge = {name: _of(records, "boundary", name) for name in names}
        row(
            f"canary exactly at stable + allowance (1.5 % vs 0.5 %, {len(edge[names[0]])} releases x 15 min): "
            f"rollbacks, all false by the check's definition, at {NOMINAL} / calibrated",
            lambda n: (
                f"{100 * false_rollback_rate(edge[n], nominal):.1f} % / "
                f"{100 * false_rollback_rate(edge[n], calibrated[n]):.1f} %"
            ),
        )
    for scenario, label in (
        ("large", "10 % 5xx canary, 25 req/s from 10 %: seconds to Fail, median (p90)"),
        ("small", "2.5 % 5xx canary (+2 pts, allowance 1): rolled back; median seconds"),
    ):
        if scenario not in ran:
            continue
        runs = {name: _of(records, scenario, name) for name in names}
        row(
            label,
            lambda n, runs=runs: (
                f"{_caught(runs[n], calibrated[n])}; {_median([r.fail_at[calibrated[n]] for r in runs[n]])} s"
                f" ({_p90([r.fail_at[calibrated[n]] for r in runs[n]])} s)"
            ),
        )
        if scenario == "large":
            row(
                f"10 % canary at the nominal confidence {NOMINAL} (uncalibrated): seconds to Fail, median (p90)",
                lambda n, runs=runs: (
                    f"{_median([r.fail_at[nominal] for r in runs[n]])} s"
                    f" ({_p90([r.fail_at[nominal] for r in runs[n]])} s)"
                ),
            )
            row(
                "10 % canary: canary requests until Fail, median (failed user requests)",
                lambda n, runs=runs: (
                    f"{_median([r.requests[calibrated[n]] for r in runs[n]])} "
                    f"({_median([r.failed_users[calibrated[n]] for r in runs[n]])})"
                ),
            )
    large = {name: _of(records, "large", name) for name in names}
    strict = {name: calibrate(identical[name], 0.0) for name in names}
    if "large" in ran:
        row(
            "10 % canary, both at the lowest confidence with no false rollback measured: confidence, seconds to Fail, "
            "median (p90)",
            lambda n: (
                f"{GRID[strict[n]]}: {_median([r.fail_at[strict[n]] for r in large[n]])} s"
                f" ({_p90([r.fail_at[strict[n]] for r in large[n]])} s)"
            ),
        )
    rising = {name: _of(records, "rising", name) for name in names}
    if "rising" in ran:
        row(
            "rising error rate (+1 pt per 5 min, steps of 5 min): weight when rolled back, median (seconds)",
            lambda n: (
                f"{_median([r.weight[calibrated[n]] for r in rising[n]])} % "
                f"({_median([r.fail_at[calibrated[n]] for r in rising[n]])} s), {_caught(rising[n], calibrated[n])}"
            ),
        )
    for scenario, label in (
        ("p99", "p99-only regression (3 % of requests +400 ms), p99 maxRatio 1.1"),
        ("latency-identical", "equally fast versions, p99 maxRatio 1.1 (every rollback false)"),
        ("coarse", "coarse buckets (stable ~50 ms, canary 20 % slower: truly over maxRatio 1.1)"),
    ):
        if scenario not in ran:
            continue
        runs = {name: _of(records, scenario, name) for name in names}
        row(label, lambda n, runs=runs: _decision(runs[n], harm=False))
    for scenario, label in (
        ("unmeasured", "canary unreachable (proxy answers its share with 503, no destination-side series)"),
        ("outage", "Prometheus answers errors for 120 s mid-step (identical versions)"),
    ):
        if scenario not in ran:
            continue
        runs = {name: _of(records, scenario, name) for name in names}
        row(label, lambda n, runs=runs: _decision(runs[n]))
    lines = [f"| figure | {' | '.join(names)} |", f"|---|{'---|' * len(names)}"]
    lines += [f"| {label} | {' | '.join(cells)} |" for label, cells in rows]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every scenario's number of releases")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--min-requests", type=int, default=Tuning().min_requests)
    parser.add_argument("--window", type=int, default=Tuning().window_s, help="today's window, seconds")
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios to run (default: all); goals need identical,large"
    )
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.only.split(",")))
    if wanted and not {"identical", "large"} <= wanted:
        parser.error("--only needs identical and large: calibration and the goals are measured on them")
    catalogue = [p for p in CATALOGUE if not wanted or p.scenario.name in wanted]
    tuning = Tuning(min_requests=args.min_requests, window_s=args.window)
    names = [judge.name for judge in judges(tuning)]
    began = time.monotonic()
    grid_plans = [p for p in catalogue if p.grid]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        records = run_all(grid_plans, tuning, {name: GRID for name in names}, args.scale, pool)
        identical = {name: _of(records, "identical", name) for name in names}
        target = ALPHA
        calibrated = {name: calibrate(identical[name], target) for name in names}
        single = {name: (GRID[calibrated[name]],) for name in names}
        # The other plans run at the calibrated confidence alone: their records hold it at index 0.
        records += run_all([p for p in catalogue if not p.grid], tuning, single, args.scale, pool)
    elapsed = time.monotonic() - began

    print(
        f"verdict lab: {len({(r.scenario, r.seed) for r in records})} releases, {elapsed:.0f} s on {args.workers} "
        f"processes; allowance {tuning.max_increase_points:g} pt, minRequests {tuning.min_requests}, "
        f"today's window {tuning.window_s} s, p99 maxRatio {tuning.max_ratio:g}, nominal alpha {ALPHA}"
    )
    print()
    print("false rollbacks on identical versions by confidence:")
    print(f"| confidence | {' | '.join(names)} |")
    print(f"|---|{'---|' * len(names)}")
    for index, confidence in enumerate(GRID):
        rates = [f"{100 * false_rollback_rate(identical[name], index):.2f} %" for name in names]
        print(f"| {confidence} | {' | '.join(rates)} |")
    print()
    print("Below the calibration row, each judge runs at its calibrated confidence unless a row says otherwise.")
    print()
    print("\n".join(report(records, calibrated, target, names)))
    print()
    return verdict_on_goals(records, calibrated, names)


def verdict_on_goals(records: Sequence[Record], calibrated: dict[str, int], names: Sequence[str]) -> int:
    missed = []
    nominal_rate = false_rollback_rate(_of(records, "identical", "new"), GRID.index(NOMINAL))
    if nominal_rate > ALPHA:
        missed.append(f"the new judge's false-rollback rate {100 * nominal_rate:.2f} % is over alpha {ALPHA}")
    medians = {}
    for name in names:
        seen = [r.fail_at[calibrated[name]] for r in _of(records, "large", name)]
        caught = [s for s in seen if s is not None]
        medians[name] = statistics.median(caught) if caught else float("inf")
    speedup = medians["today"] / medians["new"]
    print(f"speed-up on the 10 % canary, calibrated: {speedup:.2f}x (goal >= {SPEEDUP_GOAL:g}x)")
    if speedup < SPEEDUP_GOAL:
        missed.append(f"the new judge is {speedup:.2f}x as fast as today's, under {SPEEDUP_GOAL:g}x")
    for why in missed:
        print(f"GOAL MISSED: {why}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
