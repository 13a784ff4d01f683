"""The recorded `graygate get --watch` frames in docs/ and the README's walkthrough show the gate table exactly as
`graygate.console.render` draws it today, so a change of column widths cannot leave them stale unnoticed.

Each recorded gate row is read back at today's column offsets and drawn again; a row recorded with other widths
reads back as different cells and is drawn differently. Re-record with `make docs-capture`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graygate.api import CanaryReleaseStatus
from graygate.console.render import gate_lines

REPO = Path(__file__).resolve().parents[3]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _header() -> str:
    status = CanaryReleaseStatus.model_validate(
        {"recentResults": [{"gate": "g", "kind": "httpProbe", "verdict": "Pass", "at": "2026-01-01T00:00:00Z"}]}
    )
    return gate_lines(status, color=False)[0]


def _gate_blocks(lines: list[str]) -> list[list[str]]:
    """Every gate table in `lines`: its header and its rows, up to the next blank line."""
    blocks: list[list[str]] = []
    for index, line in enumerate(lines):
        if re.match(r"gate\s+verdict\s+value\s+threshold$", line):
            block = [line]
            for row in lines[index + 1 :]:
                if row.strip() in ("", "…"):  # the README trims the frame after the gates with an ellipsis
                    break
                if not row.startswith(" "):  # an indented line is the evidence of the gate above
                    block.append(row)
            blocks.append(block)
    return blocks


def _redrawn(rows: list[str], header: str) -> list[str]:
    starts = [header.index(column) for column in ("verdict", "value", "threshold")]
    results = []
    for row in rows:
        gate, verdict, value, threshold = (
            row[begin:end].strip() for begin, end in zip([0, *starts], [*starts, None], strict=True)
        )
        results.append(
            {"gate": gate, "kind": "k", "verdict": verdict, "value": value, "threshold": threshold,
             "at": "2026-01-01T00:00:00Z"}
        )  # fmt: skip
    status = CanaryReleaseStatus.model_validate({"recentResults": results})
    return gate_lines(status, color=False)


def _readme_walkthrough() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## A 60-second walkthrough", 1)[1].split("\n## ", 1)[0]
    # The frame is indented by four spaces among the demo's other output.
    return [line[4:] if line.startswith("    ") else "" for line in section.splitlines()]


SOURCES = {
    "docs/get-watch.txt": lambda: (REPO / "docs" / "get-watch.txt").read_text().splitlines(),
    "docs/get-watch.ansi": lambda: _ANSI.sub("", (REPO / "docs" / "get-watch.ansi").read_text()).splitlines(),
    "README.md walkthrough": _readme_walkthrough,
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_recorded_gate_tables_match_todays_renderer(source: str) -> None:
    blocks = _gate_blocks(SOURCES[source]())
    assert blocks, f"{source} shows no gate table"
    header = _header()
    for recorded in blocks:
        assert recorded[0] == header, f"{source}: the gate header is stale; re-record with `make docs-capture`"
        assert _redrawn(recorded[1:], header) == recorded, f"{source}: gate rows drawn with other column widths"
