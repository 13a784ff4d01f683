"""The domain's own errors. They mean a caller broke the domain's contract (a bug), never a failed check:
failed checks are values (`Verdict`), not exceptions.

    DomainError
     ├── IllegalTransition      a (phase, trigger) pair that is not in the phase table
     ├── UnknownGate            a measurement for a gate the spec does not have, or two for the same gate
     ├── MeasurementMismatch    a measurement whose kind is not its gate's kind
     └── UnfollowableWorkload   a followed Deployment whose selector does not name it, so no primary can be cut
"""

from __future__ import annotations

__all__ = ["DomainError", "IllegalTransition", "MeasurementMismatch", "UnfollowableWorkload", "UnknownGate"]


class DomainError(Exception):
    """Base of every error the pure core raises."""


class IllegalTransition(DomainError):
    """The phase table has no move for this trigger in this phase."""

    def __init__(self, phase: str, trigger: str) -> None:
        super().__init__(f"no transition from {phase} on {trigger}")
        self.phase = phase
        self.trigger = trigger


class UnknownGate(DomainError):
    """A measurement names a gate the release does not have, or a gate was measured twice."""


class MeasurementMismatch(DomainError):
    """A measurement's kind differs from the kind of the gate it names."""


class UnfollowableWorkload(DomainError):
    """The followed Deployment has no selector `matchLabels` entry whose value is its name: the primary's pods
    could not be told apart from the canary's. The caller must check this before asking for a primary."""
