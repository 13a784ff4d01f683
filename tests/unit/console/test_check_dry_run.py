"""`graygate check` shows a `dryRun` gate's verdict, marked, and leaves it out of the release's verdict and exit
code."""

from __future__ import annotations

import pytest

from graygate.api import Outcome
from graygate.console.check import CheckReport, GateLine, render_human, render_json

V = Outcome


@pytest.mark.parametrize("dry", [False, True])
@pytest.mark.parametrize("outcome", [V.FAIL, V.ERROR])
def test_graygate_check_shows_a_dry_run_gate_but_leaves_it_out_of_its_verdict(dry: bool, outcome: Outcome) -> None:
    lines = (
        GateLine(name="health", kind="httpProbe", outcome=V.PASS, reason="ok"),
        GateLine(name="trial", kind="httpProbe", outcome=outcome, reason="no", dry_run=dry),
    )
    report = CheckReport(release="shop/checkout", gates=lines)
    assert report.outcome is (V.PASS if dry else outcome)
    assert report.exit_code == (0 if dry else {V.FAIL: 1, V.ERROR: 2}[outcome])
    assert (f"{outcome.value} (dry run)" in render_human(report, color=False)) is dry
    assert ('"dryRun": true' in render_json(report)) is dry
