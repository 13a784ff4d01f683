"""How the release checks' reasons stay readable: lists and quoted values are cut to a bound, and the rest is
counted ("and 12 more"), so a canary that broke a hundred things still yields a status a person can read."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MAX_REASON", "SHOWN", "bounded_list", "short"]

MAX_REASON = 600
"""The longest reason a release check writes; the rest is counted, not shown."""
SHOWN = 3


def bounded_list(items: Sequence[str], limit: int = SHOWN, budget: int = MAX_REASON) -> str:
    """The first `limit` items joined by `; `, cut to `budget` characters, with `and N more` for the rest."""
    shown = "; ".join(items[:limit])
    if len(shown) > budget:
        shown = shown[: budget - 1] + "…"
    more = len(items) - min(limit, len(items))
    return shown + (f"; and {more} more" if more else "")


_SHORT = 80


def short(text: str, limit: int = _SHORT) -> str:
    """A reported value as a message quotes it: at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
