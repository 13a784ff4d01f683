"""A deliberately small JSONPath: `$`, `.key` and `[index]`, nothing else.

Why: a health document is checked with paths like `$.status` or `$.checks[0].state`. Wildcards, filters and
scripts would pull in a dependency and a second language for no gain in a canary gate, so the subset is written
here, pure and total: a path either resolves to one value or says where it stopped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Found", "Missing", "lookup", "render"]

_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")


@dataclass(frozen=True, slots=True)
class Found:
    """The path resolved to `value` (any JSON value, null included)."""

    value: object


@dataclass(frozen=True, slots=True)
class Missing:
    """The path did not resolve; `where` is the part that failed and `why` says how."""

    where: str
    why: str


def lookup(document: object, path: str) -> Found | Missing:
    """Resolve `path` (which the spec's pattern has already checked) in a parsed JSON document."""
    current = document
    walked = "$"
    for match in _PART.finditer(path, 1):
        key, index = match.group(1), match.group(2)
        walked += match.group(0)
        if key is not None:
            if not isinstance(current, dict) or key not in current:
                return Missing(walked, "no such key")
            current = current[key]
        else:
            position = int(index)
            if not isinstance(current, list) or position >= len(current):
                return Missing(walked, "no such index")
            current = current[position]
    return Found(current)


def render(value: object) -> str:
    """A JSON value as the text a spec's `equals` compares with: strings bare, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
