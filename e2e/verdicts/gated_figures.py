"""The verdict lab's gated figures: releases whose weights follow each judge's verdicts (`gated`), judge by judge.

Why apart from the timer-mode figures of `bench_verdicts`: those answer "when would this judge roll back?", these
"where would this judge leave the release?", which is what graygate does with a judge. Every judge runs at the
nominal confidence (0.95), not a calibrated one: the gated figures are about the setting a user would write.

    identical / boundary   share promoted through every step and the time it took (a good release's cost)
    large                  the weight at rollback
    rising                 the weight held when the canary's true error rate crossed stable + the allowance, and
                           where the release ended; of the releases still running when it crossed, the share
                           stopped at that weight (rolled back, or held without advancing). A figure, not a goal:
                           the sequential judge's passes on a step's counts lag a rate that rises within the step
                           (see README), and this row says by how much
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from e2e.verdicts.gated import HOLD_S, Ending, crossed_at, gated_replay
from e2e.verdicts.judges import Judge, NewJudge, TodayJudge, Tuning
from e2e.verdicts.scenarios import GatedPlanned

__all__ = ["CONFIDENCE", "GatedRecord", "gated_goal", "gated_report", "run_gated"]

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class GatedRecord:
    """One gated release under one judge."""

    scenario: str
    judge: str
    seed: int
    ending: Ending
    end_s: int
    weight: int
    """The weight it ended at."""
    steps: tuple[tuple[int, int], ...]
    crossed_s: int | None
    """The second the canary's true error rate crossed stable + the allowance, if before the release ended."""
    crossed_weight: int | None
    """The weight the canary carried then."""
    failed_users: int

    @property
    def stopped_where_it_crossed(self) -> bool:
        """Crossed while running, then rolled back or held, never past the weight it carried when it crossed."""
        if self.crossed_weight is None or self.ending == "promoted":
            return False
        return self.weight <= self.crossed_weight


def gated_judges(tuning: Tuning, *, fail_on_rise: bool) -> list[Judge]:
    judges: list[Judge] = [TodayJudge(tuning), NewJudge(tuning)]
    return [*judges, NewJudge(tuning, fail_on_rise=True)] if fail_on_rise else judges


def run_gated(planned: GatedPlanned, seeds: Sequence[int], tuning: Tuning) -> list[GatedRecord]:
    """Each seed under each judge, every judge on the same paired traffic."""
    scenario = planned.scenario
    records = []
    for seed in seeds:
        for judge in gated_judges(tuning, fail_on_rise=planned.fail_on_rise):
            gated = gated_replay(judge, scenario, seed, "errors", judge.check("errors", CONFIDENCE))
            crossed = crossed_at(scenario, tuning.max_increase_points, gated.end_s + 1)
            records.append(
                GatedRecord(
                    scenario=scenario.name,
                    judge=judge.name,
                    seed=seed,
                    ending=gated.ending,
                    end_s=gated.end_s,
                    weight=gated.weight,
                    steps=gated.steps,
                    crossed_s=crossed,
                    crossed_weight=None if crossed is None else gated.weight_at(crossed),
                    failed_users=gated.failed_users,
                )
            )
    return records


# --- figures --------------------------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _p90(values: Sequence[float]) -> str:
    seen = sorted(values)
    return f"{seen[min(len(seen) - 1, int(0.9 * len(seen)))]:g}" if seen else "-"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def _endings(records: Sequence[GatedRecord]) -> str:
    """How the releases ended, most common first: `held at 10 % 70, rolled back at 25 % 3, promoted 2`."""
    counted = Counter("promoted" if r.ending == "promoted" else f"{r.ending} at {r.weight} %" for r in records)
    return ", ".join(f"{what} {n}" for what, n in counted.most_common())


def _promotions(records: Sequence[GatedRecord]) -> str:
    done = [r.end_s for r in records if r.ending == "promoted"]
    timing = f", median {_median(done)} s (p90 {_p90(done)} s)" if done else ""
    rest = [r for r in records if r.ending != "promoted"]
    return f"promoted {_pct(len(done), len(records))}{timing}" + (f"; {_endings(rest)}" if rest else "")


def gated_report(records: Sequence[GatedRecord], names: Sequence[str], tuning: Tuning) -> list[str]:
    """The markdown table of the gated releases, one column per judge ("-" where a judge did not run)."""
    rows: list[tuple[str, list[str]]] = []
    ran = {r.scenario for r in records}

    def row(scenario: str, label: str, cell: Callable[[list[GatedRecord]], str]) -> None:
        if scenario not in ran:
            return
        cells = []
        for name in names:
            mine = [r for r in records if r.scenario == scenario and r.judge == name]
            cells.append(cell(mine) if mine else "-")
        count = len({r.seed for r in records if r.scenario == scenario})
        rows.append((f"gated, {label} ({count} releases)", cells))

    row("identical", "identical versions (both 0.5 %): promoted through 10/25/50 %, time to promotion", _promotions)
    row(
        "boundary",
        "canary exactly at stable + the allowance (1.5 % against 0.5 %): promoted, time to promotion",
        _promotions,
    )
    row(
        "large",
        "10 % 5xx canary: weight at rollback; seconds to rollback, median (p90)",
        lambda rs: (
            f"{_endings(rs)}; {_median([r.end_s for r in rs if r.ending == 'rolled back'])} s"
            f" ({_p90([r.end_s for r in rs if r.ending == 'rolled back'])} s)"
        ),
    )

    def crossing(rs: list[GatedRecord]) -> str:
        at = Counter(f"{r.crossed_weight} %" if r.crossed_weight is not None else "over before" for r in rs)
        when = _median([r.crossed_s for r in rs if r.crossed_s is not None])
        return ", ".join(f"{w}: {n}" for w, n in at.most_common()) + f" (at {when} s)"

    row("rising", "error rate rising 1 point per 5 min: the weight it carried when it crossed 1.5 %", crossing)
    row(
        "rising",
        "error rate rising 1 point per 5 min: how the release ended; median second it ended; failed user requests",
        lambda rs: (
            f"{_endings(rs)}; {_median([r.end_s for r in rs])} s; {_median([r.failed_users for r in rs])} failed"
        ),
    )
    row(
        "rising",
        "error rate rising 1 point per 5 min: of the releases still running when it crossed, stopped at the weight "
        "where it crossed (rolled back or held there)",
        lambda rs: _pct(sum(r.stopped_where_it_crossed for r in rs), sum(r.crossed_weight is not None for r in rs)),
    )
    lines = [
        f"Gated: the next weight only after a Pass at confidence {CONFIDENCE} (first judged 1 s into a step), a Fail "
        f"rolls back, no Pass within {HOLD_S} s of a step's start is held; paired traffic (every judge sees the "
        f"same arrivals and luck); allowance {tuning.max_increase_points:g} pt.",
        "",
        f"| figure | {' | '.join(names)} |",
        f"|---|{'---|' * len(names)}",
    ]
    lines += [f"| {label} | {' | '.join(cells)} |" for label, cells in rows]
    return lines


def gated_goal(records: Sequence[GatedRecord]) -> list[str]:
    """Print the rising releases' figure per judge. It sets no goal (nothing is returned as missed): see the
    module docstring."""
    for judge in sorted({r.judge for r in records if r.scenario == "rising"}):
        crossed = [r for r in records if r.scenario == "rising" and r.judge == judge and r.crossed_weight is not None]
        if crossed:
            share = sum(r.stopped_where_it_crossed for r in crossed) / len(crossed)
            print(
                f"gated, rising: {judge} stopped {100 * share:.0f} % of {len(crossed)} at the weight where they crossed"
            )
    return []
