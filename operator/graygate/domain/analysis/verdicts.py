"""Verdicts and the order in which many of them fold into one.

Why: a release never asks "did it pass?" of one check; it asks of many gates at once. An explicit order
(Pass < Waiting < Inconclusive < Error < Fail) makes that fold a single, total, tested function, `worst`, and a
`Verdict` keeps what a bare bool throws away: the reason, the value, the threshold and the time.

`Waiting` means "not enough samples yet" (a gate below its success or failure threshold): it holds the step
without counting as inconclusive. `Error` means the gate could not measure at all (its provider unreachable or
answering nonsense): it holds the step without moving the weight and counts toward `consecutiveErrorLimit`, not
toward `inconclusiveLimit`, because it says nothing about the canary and the fix is in the plumbing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from graygate.api.status import Outcome

__all__ = ["ORDER", "Verdict", "is_worse", "worst", "worst_verdict"]

ORDER: tuple[Outcome, ...] = (Outcome.PASS, Outcome.WAITING, Outcome.INCONCLUSIVE, Outcome.ERROR, Outcome.FAIL)
"""Outcomes from best to worst."""

_RANK: Mapping[Outcome, int] = MappingProxyType({outcome: rank for rank, outcome in enumerate(ORDER)})


def is_worse(candidate: Outcome, than: Outcome) -> bool:
    """True when `candidate` ranks strictly worse than `than`."""
    return _RANK[candidate] > _RANK[than]


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The worst outcome; `Pass` for none (no gate has anything against it)."""
    result = Outcome.PASS
    for outcome in outcomes:
        if is_worse(outcome, result):
            result = outcome
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the domain concluded from one measurement of one gate."""

    gate: str
    kind: str
    outcome: Outcome
    reason: str
    at: datetime
    value: str | None = None
    threshold: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    query: str | None = None
    """The resolved query or queries, one `role: query` per line, for gates that query something."""
    evidence: Mapping[str, str] = field(default_factory=dict)
    """The numbers behind the outcome, by name (counts, the statistic or bound, alpha, the allowance, the
    resolution), so the status, the Events and `graygate get` can show the working."""
    harm: str | None = None
    """Set when the gate saw users failing on the canary (caller-side errors on its share, or its share answered
    by no pod): why a release that cannot decide must still take the canary's traffic away."""
    dry_run: bool = False
    """The gate is `dryRun`: this verdict is reported but counts toward nothing (see `assessment`)."""

    def with_outcome(self, outcome: Outcome, reason: str) -> Verdict:
        """The same verdict with another outcome and reason (used when thresholds debounce a sample)."""
        return replace(self, outcome=outcome, reason=reason)


@dataclass(frozen=True, slots=True)
class VerdictFor:
    """Makes the verdicts of one measurement: its gate, kind, time, inputs (and a default threshold) are fixed
    once, so a judge only says what it concluded: `verdict(Outcome.FAIL, "why", value, threshold)`."""

    gate: str
    kind: str
    at: datetime
    inputs: Mapping[str, str]
    threshold: str | None = None

    def __call__(
        self, outcome: Outcome, reason: str, value: str | None = None, threshold: str | None = None
    ) -> Verdict:
        return Verdict(
            gate=self.gate,
            kind=self.kind,
            outcome=outcome,
            reason=reason,
            at=self.at,
            value=value,
            threshold=threshold if threshold is not None else self.threshold,
            inputs=self.inputs,
        )


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict | None:
    """The first of the worst verdicts, or None for none."""
    chosen: Verdict | None = None
    for verdict in verdicts:
        if chosen is None or is_worse(verdict.outcome, chosen.outcome):
            chosen = verdict
    return chosen
