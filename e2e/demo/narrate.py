"""What the demo says, as pure functions of what it saw, and the one object that writes it.

Why apart from the orchestration: the demo's output is read by people (the README walkthrough is pasted from it)
and asserted on by `e2e/test_demo.py`; keeping the words here, computed from plain data (a release as the API server
returns it, the load generator's samples), lets a unit test pin them without a cluster.

Two ways to show a release while it runs:
- interactive (a terminal): the `graygate get --watch` view of the release, redrawn in place under the story so
  far, with a line about what the users (the load generator) see;
- plain (CI, a pipe, `--non-interactive`): one line each time the phase, the step, the weight or a verdict
  changes, then the final `graygate get` view once.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from e2e.lab import Sample
from graygate.api import CanaryReleaseStatus, GateResult, Outcome

_ANSI = re.compile(r"\033\[[0-9;]*[A-Za-z]")
_BOLD, _RESET = "\033[1m", "\033[0m"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _status(release: dict[str, Any]) -> CanaryReleaseStatus:
    return CanaryReleaseStatus.model_validate(release.get("status") or {})


def latest_results(release: dict[str, Any], since: datetime | None = None) -> list[GateResult]:
    """Each gate's newest result measured at or after `since` (a long-lived release keeps the last run's results
    until the new run measures), in the spec's order of gates (then the others, such as `canaryWorkload`)."""
    latest: dict[str, GateResult] = {}
    for result in _status(release).recent_results:
        if since is None or result.at >= since:
            latest[result.gate] = result
    gates = ((release.get("spec") or {}).get("analysis") or {}).get("gates") or []
    order = {str(gate.get("name")): index for index, gate in enumerate(gates) if isinstance(gate, dict)}
    return sorted(latest.values(), key=lambda result: order.get(result.gate, len(order)))


def progress_key(release: dict[str, Any], since: datetime | None = None) -> tuple[object, ...]:
    """What must change for the plain output to print a new line."""
    status = _status(release)
    verdicts = tuple((r.gate, r.outcome) for r in latest_results(release, since))
    return status.phase, status.step_display, status.canary_weight, verdicts


def progress_line(release: dict[str, Any], elapsed_s: float, since: datetime | None = None) -> str:
    """`+ 24.2s  Progressing  step 3/7  canary  30%  success-rate Pass · latency Pass · health Pass`: values only for
    the gates that did not pass, so a line stays readable and the one that matters stands out."""
    status = _status(release)
    gates = " · ".join(
        f"{r.gate} {r.outcome.value}" + ("" if r.outcome is Outcome.PASS else f" [{r.value or r.reason}]")
        for r in latest_results(release, since)
    )
    line = (
        f"+{elapsed_s:5.1f}s  {status.phase.value:<11}  step {status.step_display or '-':<4}  "
        f"canary {status.canary_weight:>3}%"
    )
    return f"{line}  {gates}" if gates else line


def caught_by(release: dict[str, Any]) -> GateResult | None:
    """The failing gate result that rolled the release back (the newest `Fail`), if any."""
    failures = [r for r in _status(release).recent_results if r.outcome is Outcome.FAIL]
    return failures[-1] if failures else None


def caught_by_lines(result: GateResult) -> list[str]:
    """Which gate rolled the release back, what it saw, what it needed, and why that is a failure."""
    return [
        f"rolled back by gate {result.gate} ({result.kind})",
        f"  saw:    {result.value or '-'}",
        f"  needed: {result.threshold or '-'}",
        f"  why:    {result.reason}",
    ]


@dataclass(frozen=True)
class Traffic:
    """What the users saw over some span: requests, how many each version served, failures."""

    requests: int
    served: tuple[tuple[str, int], ...]
    """(version, requests it answered), by version; requests no backend answered are in no version."""
    failed: int

    def share(self, version: str) -> float:
        return dict(self.served).get(version, 0) / self.requests if self.requests else 0.0

    def versions(self) -> set[str]:
        return {version for version, count in self.served if count}

    def describe(self) -> str:
        shares = ", ".join(f"{version} {self.share(version):.0%}" for version, _ in self.served)
        return (
            f"{self.requests} requests ({shares or 'none answered'}), "
            f"{self.failed} failed ({self.failed / max(self.requests, 1):.1%})"
        )


def traffic(samples: Sequence[Sample], start: float, end: float) -> Traffic:
    seen = [s for s in samples if start <= s.sent_at < end]
    served = Counter(s.version for s in seen if s.version is not None)
    return Traffic(requests=len(seen), served=tuple(sorted(served.items())), failed=sum(1 for s in seen if s.failed))


@dataclass
class Narrator:
    """Writes the story to `out`; `interactive` redraws a live region in place (ANSI), plain never does."""

    interactive: bool
    out: TextIO = field(default_factory=lambda: sys.stdout)
    since: datetime | None = None
    """Gate results older than this belong to an earlier run: the progress lines leave them out."""
    _live_lines: int = 0
    _live_text: str = ""
    _last_key: tuple[object, ...] | None = None

    def chapter(self, title: str) -> None:
        self._commit()
        heading = f"{_BOLD}== {title}{_RESET}" if self.interactive else f"== {title}"
        self._write(f"\n{heading}\n")

    def say(self, text: str) -> None:
        """A line of the story; in a terminal it goes above the live view, which is redrawn below it."""
        live = self._erase()
        self._write(f"{text}\n")
        if live:
            self._draw(live)

    def command(self, text: str) -> None:
        self.say(f"$ {text}")

    def update(self, release: dict[str, Any], view: str, users: str, elapsed_s: float) -> None:
        """The release as it is now: `view` is `graygate get`'s text, `users` what the load generator sees."""
        if self.interactive:
            self._erase()
            self._draw(f"{view}\n\nusers: {users}")
            return
        key = progress_key(release, self.since)
        if release.get("status") and key != self._last_key:
            self._last_key = key
            self._write(progress_line(release, elapsed_s, self.since) + "\n")

    def finish(self, view: str) -> None:
        """The release has finished: leave its final view on screen (plain output prints it once, indented)."""
        if self.interactive:
            self._erase()
            self._write(view + "\n\n")
        else:
            self._write("\n" + "\n".join(f"    {line}" for line in strip_ansi(view).splitlines()) + "\n\n")
        self._live_lines, self._last_key = 0, None

    # -- the live region ---------------------------------------------------------------------------------------

    def _draw(self, text: str) -> None:
        self._write(text + "\n")
        self._live_text, self._live_lines = text, text.count("\n") + 1

    def _erase(self) -> str:
        """Remove the live region from the screen; return what it showed."""
        if not self._live_lines:
            return ""
        self._write(f"\033[{self._live_lines}F\033[J")
        text, self._live_lines = self._live_text, 0
        return text

    def _commit(self) -> None:
        self._live_lines = 0

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
