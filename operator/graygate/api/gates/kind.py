"""The base of every gate kind's model: what the rest of graygate needs to know of a kind without a list of kinds.

Why on the model: the CRD's rules (a bounded wait shorter than the interval) are generated here in `api/`, below
everything else, and the URL allowlist must know every URL a spec names before any gate runs. A kind says both of
itself, so neither `api/spec.py` nor the allowlist changes when a kind is added.
"""

from __future__ import annotations

from typing import ClassVar

from graygate.api.base import SpecModel

__all__ = ["CheckModel"]


class CheckModel(SpecModel):
    """One gate kind's check, as the release spec says it."""

    kind: ClassVar[str]
    """The kind's field name in a gate, e.g. `httpProbe`."""

    bounded_wait: ClassVar[tuple[str, ...]] = ()
    """The path of the duration one analysis of this kind may wait (e.g. `("timeout",)`), which must be shorter
    than the analysis interval; empty when the kind has none."""

    result_open_keys: ClassVar[bool] = False
    """Whether this kind's `result` holds maps whose keys only the run knows (a series' labels, a JSON body)."""

    def result_sample(self) -> dict[str, object]:
        """A representative `result` of this check, typed as its measurement's `result()` is: what a
        `successCondition` or `failureCondition` is checked against. Empty for a kind that measures no number."""
        return {}

    def urls(self) -> tuple[str, ...]:
        """Every URL this check calls on the release author's word (not an operator default)."""
        return ()
