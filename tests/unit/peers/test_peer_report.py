"""The regression guard of `make bench-peers`, as a table: graygate's median against a peer's, with the spread."""

from __future__ import annotations

import pytest

from e2e.peer_report import regressions, summarize, table
from e2e.peer_runs import Outcome

BAD = "5xx 10% at 25%"


def runs(tool: str, backs: list[float | None], failed: list[int], scenario: str = BAD) -> list[Outcome]:
    return [
        Outcome(tool, scenario, i, "rolled back" if b is not None else "timed out", b, f, 25, None)
        for i, (b, f) in enumerate(zip(backs, failed, strict=True))
    ]


@pytest.mark.parametrize(
    ("ours", "theirs", "flagged"),
    [
        # graygate faster and fewer failures: nothing
        ((([2.0, 2.5, 3.0]), [10, 12, 14]), (([12.0, 15.0, 20.0]), [60, 70, 80]), []),
        # slower, but within the spread (max - min of either tool): nothing
        ((([5.0, 6.0, 7.0]), [10, 10, 10]), (([4.0, 5.0, 9.0]), [10, 10, 10]), []),
        # slower by more than the spread
        ((([9.0, 9.5, 10.0]), [10, 10, 10]), (([4.0, 4.5, 5.0]), [10, 10, 10]), ["users back"]),
        # more failed requests by more than the spread
        ((([2.0, 2.0, 2.0]), [30, 31, 32]), (([2.0, 2.0, 2.0]), [10, 11, 12]), ["fails"]),
        # graygate never put the users back, the peer did
        ((([None, None, None]), [0, 0, 0]), (([4.0, 5.0, 6.0]), [10, 10, 10]), ["users back"]),
    ],
)
def test_graygate_worse_than_a_peer_by_more_than_the_spread_is_a_regression(
    ours: tuple[list[float | None], list[int]], theirs: tuple[list[float | None], list[int]], flagged: list[str]
) -> None:
    summaries = summarize(runs("graygate", *ours) + runs("Flagger", *theirs))
    found = regressions(summaries, [BAD])
    assert len(found) == len(flagged), found
    for word, line in zip(flagged, found, strict=True):
        assert word in line


def test_a_healthy_scenario_is_never_guarded_and_the_table_has_a_row_per_tool() -> None:
    summaries = summarize(runs("graygate", [9.0], [50], "healthy") + runs("Flagger", [1.0], [0], "healthy"))
    assert regressions(summaries, [BAD]) == []
    rows = table(summaries).splitlines()
    assert len(rows) == 4
    assert "| healthy | graygate | 1 | 9.0 s (0.0) | 1x |" in rows[2]
    assert "| healthy | Flagger | 1 | 1.0 s (0.0) | 0.1x |" in rows[3]
