"""Argo CD's comparison of a Git manifest with the live object, modelled simply, with its ignoreDifferences.

Why: "graygate and Argo CD have nothing to fight over" is a claim about two sets of fields: what graygate writes on a
Git-owned object, and what Argo CD compares and puts back on a sync. This helper makes the second set computable, so
a test can apply graygate's real writers to the Git layout the docs show and find no difference left.

The model: every field present in the applied manifest must equal the live one. Maps are compared key by key over
the applied keys only (the live object's extra fields, defaults and status, are not Git's), lists element by element
and by length, scalars by value. A path matched by an ignore rule of the object's group, kind and name is not
compared, nor anything under it. Rules are Argo CD's `ignoreDifferences` entries: `jsonPointers` (RFC 6901) and
`jqPathExpressions` of the simple form `.a.b[].c` (`[]` or `[]?` every element, `[n]` one element); anything richer
is refused rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "EVERY",
    "FieldPath",
    "IgnoreRule",
    "IgnoreRules",
    "fields_changed",
    "load_rules",
    "load_rules_file",
    "pointer",
]

EVERY = object()
"""A path segment matching every index of a list."""

FieldPath = tuple[str | int, ...]
Pattern = tuple[object, ...]

_JQ_STEP = re.compile(r"\.(?P<key>[A-Za-z_][\w-]*)|\[(?P<index>\d*)\]\??")


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One `ignoreDifferences` entry: which objects (`name` None: every one of the kind) and which paths."""

    group: str
    kind: str
    name: str | None
    patterns: tuple[Pattern, ...]

    def applies_to(self, manifest: Mapping[str, Any]) -> bool:
        api_version = str(manifest.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        name = manifest.get("metadata", {}).get("name")
        return group == self.group and manifest.get("kind") == self.kind and self.name in (None, name)


IgnoreRules = Sequence[IgnoreRule]


def _from_pointer(text: str) -> Pattern:
    if not text.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {text!r}")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))


def _from_jq(text: str) -> Pattern:
    steps: list[object] = []
    position = 0
    while position < len(text):
        found = _JQ_STEP.match(text, position)
        if found is None:
            raise ValueError(f"only .key, [] and [n] are modelled; cannot read {text[position:]!r} of {text!r}")
        if found["key"] is not None:
            steps.append(found["key"])
        else:
            steps.append(EVERY if found["index"] == "" else int(found["index"]))
        position = found.end()
    if not steps:
        raise ValueError(f"an empty path: {text!r}")
    return tuple(steps)


def load_rules(entries: Iterable[Mapping[str, Any]]) -> tuple[IgnoreRule, ...]:
    """Rules from `ignoreDifferences` entries as an Application holds them."""
    return tuple(
        IgnoreRule(
            group=str(entry.get("group", "")),
            kind=str(entry["kind"]),
            name=entry.get("name"),
            patterns=tuple(_from_pointer(p) for p in entry.get("jsonPointers", ()))
            + tuple(_from_jq(p) for p in entry.get("jqPathExpressions", ())),
        )
        for entry in entries
    )


def load_rules_file(path: Path) -> tuple[IgnoreRule, ...]:
    """Rules from a YAML file holding the list of `ignoreDifferences` entries."""
    return load_rules(yaml.safe_load(path.read_text()))


def pointer(path: FieldPath) -> str:
    """`path` as a JSON pointer, the form `fields_changed` reports."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _ignored(path: FieldPath, patterns: Sequence[Pattern]) -> bool:
    for pattern in patterns:
        if len(pattern) <= len(path) and all(
            (step is EVERY and isinstance(part, int)) or step == part for step, part in zip(pattern, path, strict=False)
        ):
            return True
    return False


def _differences(applied: Any, live: Any, path: FieldPath, patterns: Sequence[Pattern]) -> Iterable[FieldPath]:
    if _ignored(path, patterns):
        return
    if isinstance(applied, Mapping):
        if not isinstance(live, Mapping):
            yield path
            return
        for key, value in applied.items():
            inner = (*path, str(key))
            if key not in live:
                if not _ignored(inner, patterns):
                    yield inner
                continue
            yield from _differences(value, live[key], inner, patterns)
    elif isinstance(applied, list):
        if not isinstance(live, list) or len(live) != len(applied):
            yield path
            return
        for index, (wanted, found) in enumerate(zip(applied, live, strict=True)):
            yield from _differences(wanted, found, (*path, index), patterns)
    elif applied != live or type(applied) is not type(live):
        yield path


def fields_changed(applied: Mapping[str, Any], live: Mapping[str, Any], ignore: IgnoreRules) -> list[str]:
    """The JSON pointers of the applied manifest's fields whose live value differs, outside the ignored paths."""
    patterns = [pattern for rule in ignore if rule.applies_to(applied) for pattern in rule.patterns]
    return [pointer(path) for path in _differences(applied, live, (), patterns)]
