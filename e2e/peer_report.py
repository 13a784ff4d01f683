"""The figures of `make bench-peers`: per tool and scenario, medians and spreads of the runs, ratios against graygate,
and the regression guard.

The guard (the bench's exit status): for a canary that turns bad, graygate's median seconds until users are back on
stable, and its median failed user requests, may each be worse than a peer's by no more than the spread of the runs
(the larger of the two tools' max - min). Pure, so the rule is tested as a table without servers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from e2e.peer_runs import Outcome

OURS = "graygate"


@dataclass(frozen=True)
class Summary:
    """One tool's runs of one scenario."""

    tool: str
    scenario: str
    runs: int
    back_s: float | None
    back_spread: float | None
    failed: float
    failed_spread: float
    stopped_at: str
    promoted_s: float | None
    rollbacks: int
    timeouts: int


def _median_spread(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.median(values), max(values) - min(values)


def summarize(outcomes: Sequence[Outcome]) -> list[Summary]:
    keys = list(dict.fromkeys((o.tool, o.scenario) for o in outcomes))
    out = []
    for tool, scenario in keys:
        mine = [o for o in outcomes if (o.tool, o.scenario) == (tool, scenario)]
        back, back_spread = _median_spread([o.back_on_stable_s for o in mine if o.back_on_stable_s is not None])
        failed, failed_spread = _median_spread([float(o.failed) for o in mine])
        promoted, _ = _median_spread([o.promoted_s for o in mine if o.promoted_s is not None])
        weights = sorted({o.stopped_at_weight for o in mine if o.stopped_at_weight is not None})
        out.append(
            Summary(
                tool=tool,
                scenario=scenario,
                runs=len(mine),
                back_s=back,
                back_spread=back_spread,
                failed=failed or 0.0,
                failed_spread=failed_spread or 0.0,
                stopped_at="/".join(f"{w}%" for w in weights) or "-",
                promoted_s=promoted,
                rollbacks=sum(o.ended == "rolled back" for o in mine),
                timeouts=sum(o.ended == "timed out" for o in mine),
            )
        )
    return out


def regressions(summaries: Sequence[Summary], bad_scenarios: Sequence[str]) -> list[str]:
    """Where graygate's median is worse than a peer's by more than the spread, for the bad canaries. A bad canary
    graygate never put users back from (no time) is a regression against any peer that did."""
    found = []
    ours = {s.scenario: s for s in summaries if s.tool == OURS}
    for peer in (s for s in summaries if s.tool != OURS and s.scenario in bad_scenarios):
        mine = ours.get(peer.scenario)
        if mine is None:
            continue
        if peer.back_s is not None:
            spread = max(mine.back_spread or 0.0, peer.back_spread or 0.0)
            if mine.back_s is None or mine.back_s > peer.back_s + spread:
                found.append(
                    f"{peer.scenario}: graygate puts users back on stable in {_s(mine.back_s)}, "
                    f"{peer.tool} in {_s(peer.back_s)} (spread {spread:.2f} s)"
                )
        spread = max(mine.failed_spread, peer.failed_spread)
        if mine.failed > peer.failed + spread:
            found.append(
                f"{peer.scenario}: graygate fails {mine.failed:.0f} user requests, {peer.tool} {peer.failed:.0f} "
                f"(spread {spread:.0f})"
            )
    return found


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None or theirs is None or mine <= 0:
        return "-"
    return f"{theirs / mine:.1f}x"


def table(summaries: Sequence[Summary]) -> str:
    """A Markdown table: one row per tool and scenario; the ratios are the peer's figure over graygate's."""
    ours = {s.scenario: s for s in summaries if s.tool == OURS}
    lines = [
        "| scenario | tool | runs | users back on stable (median, spread) | vs graygate | failed requests "
        "(median, spread) | stopped at | full promotion (median) | rolled back | timed out |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted(summaries, key=lambda s: (s.scenario, s.tool != OURS, s.tool)):
        mine = ours.get(s.scenario)
        ratio = "1x" if s.tool == OURS else _ratio(mine.back_s if mine else None, s.back_s)
        back = "-" if s.back_s is None else f"{s.back_s:.1f} s ({s.back_spread or 0:.1f})"
        lines.append(
            f"| {s.scenario} | {s.tool} | {s.runs} | {back} | {ratio} | {s.failed:.0f} ({s.failed_spread:.0f}) | "
            f"{s.stopped_at} | {_s(s.promoted_s)} | {s.rollbacks}/{s.runs} | {s.timeouts}/{s.runs} |"
        )
    return "\n".join(lines)
