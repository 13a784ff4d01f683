"""The release view fits 80 columns, shows the step, both weights and each gate's latest verdict, and colours
only when asked."""

from __future__ import annotations

from typing import Any

import pytest

from graygate.api import Outcome, Phase
from graygate.console.render import EventLine, progress_bar, render_release, render_table


def _release(
    phase: str = "Progressing", weight: int = 30, results: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": "checkout"},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "checkout", "subset": "stable"},
            "canary": {"host": "checkout", "subset": "canary"},
            "steps": [{"setWeight": 30}, {"pause": {"duration": "1m"}}, {"setWeight": 60}],
        },
        "status": {
            "phase": phase,
            "canaryWeight": weight,
            "stepDisplay": "1/3",
            "message": "step 1/3: 30% to the canary " + "and a long explanation " * 6,
            "recentResults": results or [],
        },
    }


RESULT = {"gate": "error-rate", "kind": "prometheus", "verdict": "Fail", "value": "4.1%", "threshold": "<= 1%",
          "reason": "too many errors", "at": "2026-01-01T00:00:00Z"}  # fmt: skip


@pytest.mark.parametrize("color", [False, True])
def test_detail_view_fits_80_columns(color: bool) -> None:
    events = [EventLine(at=None, type="Warning", reason="RolledBack", note="x" * 200)]
    text = render_release(_release(results=[RESULT]), events, color=color)
    visible = text.replace("\033[0m", "")
    for code in ("31", "32", "33", "36", "2", "1"):
        visible = visible.replace(f"\033[{code}m", "")
    assert max(len(line) for line in visible.splitlines()) <= 80
    assert ("\033[" in text) is color


def test_detail_view_shows_step_weights_and_gate_verdicts() -> None:
    text = render_release(_release(results=[RESULT]), [], color=False)
    assert "step 1/3" in text
    assert "stable  70%   canary  30%" in text
    gate_line = next(line for line in text.splitlines() if line.startswith("error-rate"))
    assert "Fail" in gate_line
    assert "4.1%" in gate_line
    assert "<= 1%" in gate_line


EVIDENCE = {"canaryErrors": "41", "canaryRequests": "1000", "bound": "0.031", "alpha": "0.05", "note": "x" * 90}


@pytest.mark.parametrize("color", [False, True])
def test_the_evidence_of_a_gate_is_one_indented_line_under_it(color: bool) -> None:
    quiet = {**RESULT, "gate": "latency", "verdict": "Pass"}
    text = render_release(_release(results=[{**RESULT, "evidence": EVIDENCE}, quiet]), [], color=color)
    lines = text.splitlines()
    row = next(n for n, line in enumerate(lines) if line.startswith("error-rate"))
    evidence = lines[row + 1].replace("\033[2m", "").replace("\033[0m", "")
    assert evidence.startswith("  canaryErrors=41, canaryRequests=1000, bound=0.031, alpha=0.05, note=xx")
    assert len(evidence) == 80
    assert evidence.endswith("…")
    assert lines[row + 2].startswith("latency")  # no evidence, no line


@pytest.mark.parametrize(("weight", "bar"), [(0, "[..........]"), (30, "[###.......]"), (100, "[##########]")])
def test_progress_bar(weight: int, bar: str) -> None:
    assert progress_bar(weight, 10) == bar


def test_table_lists_every_release_or_says_none() -> None:
    assert "(no CanaryReleases)" in render_table([], color=False)
    table = render_table([_release(), _release("Failed", 0)], color=False)
    assert len(table.splitlines()) == 3
    assert "Failed" in table.splitlines()[2]


def _visible(text: str) -> str:
    for code in ("0", "31", "32", "33", "36", "2", "1"):
        text = text.replace(f"\033[{code}m", "")
    return text


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("verdict", [*Outcome, None])
@pytest.mark.parametrize("phase", list(Phase))
def test_table_fits_80_columns_for_every_phase_and_verdict(phase: Phase, verdict: Outcome | None, color: bool) -> None:
    release = _release(phase.value, 100)
    release["metadata"] = {"namespace": "payments-production", "name": "checkout-frontend-v12"}
    release["status"].update(stepDisplay="12/12", lastVerdict=verdict.value if verdict else None)
    lines = _visible(render_table([release], color=color)).splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    row = lines[1]
    assert phase.value in row
    assert row.endswith(verdict.value if verdict else "-")
    assert "12/12" in row
    assert "[##########] 100%" in row


def test_table_columns_line_up_with_the_header() -> None:
    header, *rows = render_table([_release(), _release("Failed", 0)], color=False).splitlines()
    for column in ("PHASE", "STEP", "CANARY", "VERDICT"):
        start = header.index(column)
        assert all(row[start - 1] == " " and row[start] != " " for row in rows), (column, rows)


def test_detail_view_shows_where_the_config_keys_stand() -> None:
    release = _release(phase="Failed", weight=0)
    release["status"]["config"] = {
        "state": "Conflict",
        "etcd": {"endpoints": ["127.0.0.1:2379"]},
        "keys": [
            {"key": "/app/pool", "previousValue": "8", "writtenRevision": 9, "conflict": "set to '32'; left as is"},
            {"key": "/app/flag", "previousValue": "on", "writtenRevision": 9},
        ],
        "message": "1 config key(s) changed by someone else were not restored: /app/pool: " + "x" * 100,
    }
    text = render_release(release, [], color=False)
    line = next(line for line in text.splitlines() if line.startswith("config"))
    assert "2 etcd key(s) Conflict" in line
    assert line.endswith("/app/pool")
    assert len(line) <= 80
