"""The release view of `graygate get`: pure text from a release and its Events, readable in 80 columns.

Colour is an argument, not a guess: the caller decides from the terminal, so the same function renders the
screenshot in the docs, the plain output in a pipe, and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graygate.api import CanaryReleaseStatus, GateResult, Outcome, Phase
from graygate.api.validation import InvalidSpec, parse_spec
from graygate.domain.release.plan import plan_of

WIDTH = 80
_COLORS = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "dim": "2", "bold": "1"}
_VERDICT_COLOR = {
    Outcome.PASS: "green",
    Outcome.WAITING: "cyan",
    Outcome.INCONCLUSIVE: "yellow",
    Outcome.ERROR: "yellow",
    Outcome.FAIL: "red",
}
_PHASE_COLOR = {
    Phase.SUCCEEDED: "green",
    Phase.PROGRESSING: "cyan",
    Phase.PAUSED: "yellow",
    Phase.PROMOTING: "cyan",
    Phase.PENDING: "dim",
    Phase.FAILED: "red",
    Phase.ABORTED: "red",
    Phase.INVALID: "red",
}


@dataclass(frozen=True)
class EventLine:
    at: datetime | None
    type: str
    reason: str
    note: str


def _paint(text: str, color: str | None, enabled: bool) -> str:
    return f"\033[{_COLORS[color]}m{text}\033[0m" if enabled and color else text


def _clip80(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _keep(text: str, width: int) -> str:
    return text


def progress_bar(weight: int, width: int = 40) -> str:
    filled = round(width * weight / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def render_release(release: dict[str, Any], events: Sequence[EventLine], *, color: bool, wide: bool = False) -> str:
    """The detailed view of one release: phase, step n/m with a bar, weights, the gates its templates expanded to
    (with their arguments), gates, recent Events. `wide`: nothing clipped to 80 columns."""
    _clip = _keep if wide else _clip80
    meta = release.get("metadata", {})
    status = CanaryReleaseStatus.model_validate(release.get("status") or {})
    spec = parse_spec(release.get("spec") or {})
    steps = "?" if isinstance(spec, InvalidSpec) else str(len(plan_of(spec)))
    phase = _paint(status.phase.value, _PHASE_COLOR.get(status.phase), color)
    lines = [
        _paint(f"{meta.get('namespace', '')}/{meta.get('name', '')}", "bold", color) + f"  {phase}",
        f"step {status.step_display or '0/' + steps}  {progress_bar(status.canary_weight)}",
        f"stable {100 - status.canary_weight:>3}%   canary {status.canary_weight:>3}%",
    ]
    if status.message:
        lines.append(_clip(status.message, WIDTH))
    if (config := status.config) is not None:
        kept = [entry.key for entry in config.keys if entry.conflict is not None]
        detail = f"left as someone else set them: {', '.join(kept)}" if kept else config.message
        line = _clip(f"config {len(config.keys)} etcd key(s) {config.state.value}: {detail}", WIDTH)
        state = _paint(config.state.value, "red" if kept else None, color)
        lines.append(line.replace(config.state.value, state, 1))
    for ref in status.expanded_gates.refs if status.expanded_gates is not None else ():
        gates = ", ".join(str(gate.get("name", "?")) for gate in ref.gates)
        args = ", ".join(f"{name}={value}" for name, value in ref.args.items())
        lines.append(_clip(f"{ref.template}: {gates}", WIDTH))
        if args:
            lines.append(_paint(_clip(f"{_EVIDENCE_INDENT}{args}", WIDTH), "dim", color))
    lines.append("")
    lines.extend(gate_lines(status, color=color, wide=wide))
    if events:
        lines.append("")
        lines.append("recent events")
        for event in events[-6:]:
            stamp = event.at.strftime("%H:%M:%S") if event.at else "--:--:--"
            reason = _paint(f"{event.reason:<16}", "red" if event.type == "Warning" else None, color)
            lines.append(f"  {stamp} {reason} " + _clip(event.note, WIDTH - 28))
    return "\n".join(lines)


def gate_lines(status: CanaryReleaseStatus, *, color: bool, wide: bool = False) -> list[str]:
    """The gate block of the release view: a header, then each gate's latest verdict, value and threshold, and
    under a gate whose verdict has evidence, one indented line of its numbers (`name=value, ...`)."""
    _clip = _keep if wide else _clip80
    latest: dict[str, GateResult] = {}
    for result in status.recent_results:
        latest[result.gate] = result
    if not latest:
        return ["gates: no analysis yet"]
    lines = [f"{'gate':<16} {'verdict':<12} {'value':<22} threshold"]
    for gate, result in latest.items():
        verdict = _paint(f"{result.outcome.value:<12}", _VERDICT_COLOR.get(result.outcome), color)
        value = _clip(result.value or "-", 22)
        threshold = _clip(result.threshold or "-", WIDTH - 53)
        reason = f"  {result.reason}" if wide and result.reason else ""
        lines.append(f"{_clip(gate, 16):<16} {verdict} {value:<22} {threshold}{reason}")
        if result.evidence:
            numbers = ", ".join(f"{name}={number}" for name, number in result.evidence.items())
            lines.append(_paint(_clip(f"{_EVIDENCE_INDENT}{numbers}", WIDTH), "dim", color))
    return lines


_EVIDENCE_INDENT = "  "
"""Evidence lines start indented, so they read as part of the gate above and never as a gate row."""


_PHASE_WIDTH = max(len(phase.value) for phase in Phase)
_BAR_WIDTH = len(f"{progress_bar(100, 10)} 100%")
_STEP_WIDTH = 6
_VERDICT_WIDTH = max(len(v.value) for v in Outcome)
_REVISION_WIDTH = 16
_NAME_WIDTH = WIDTH - _PHASE_WIDTH - _STEP_WIDTH - _BAR_WIDTH - max(len(v.value) for v in Outcome) - 4
"""What is left for `namespace/name` once the longest phase and verdict fit: the table stays within 80 columns."""


def render_table(releases: Sequence[dict[str, Any]], *, color: bool, wide: bool = False) -> str:
    """One line per release, like `kubectl get`, with a short weight bar; `wide`: names unclipped, and the
    revision and message columns."""
    names = [f"{r.get('metadata', {}).get('namespace', '')}/{r.get('metadata', {}).get('name', '')}" for r in releases]
    name_width = max([_NAME_WIDTH, *map(len, names)]) if wide else _NAME_WIDTH
    _clip = _keep if wide else _clip80
    header = f"{'NAMESPACE/NAME':<{name_width}} {'PHASE':<{_PHASE_WIDTH}} {'STEP':<{_STEP_WIDTH}} "
    extra = f" {'REVISION':<{_REVISION_WIDTH}} MESSAGE" if wide else ""
    lines = [header + f"{'CANARY':<{_BAR_WIDTH}} {'VERDICT':<{_VERDICT_WIDTH}}{extra}".rstrip()]
    for release in releases:
        meta = release.get("metadata", {})
        status = CanaryReleaseStatus.model_validate(release.get("status") or {})
        name = _clip(f"{meta.get('namespace', '')}/{meta.get('name', '')}", name_width)
        phase = _paint(f"{status.phase.value:<{_PHASE_WIDTH}}", _PHASE_COLOR.get(status.phase), color)
        step = _clip(status.step_display or "-", _STEP_WIDTH)
        bar = f"{progress_bar(status.canary_weight, 10)} {status.canary_weight:>3}%"
        verdict = status.last_outcome.value if status.last_outcome else "-"
        extra = f" {status.revision or '-':<{_REVISION_WIDTH}} {status.message}" if wide else ""
        line = f"{name:<{name_width}} {phase} {step:<{_STEP_WIDTH}} {bar:<{_BAR_WIDTH}} "
        line += f"{verdict:<{_VERDICT_WIDTH}}{extra}"
        lines.append(line.rstrip())
    if len(lines) == 1:
        lines.append("(no CanaryReleases)")
    return "\n".join(lines)
