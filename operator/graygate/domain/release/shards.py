"""Shards: which operator owns a release when several run side by side, each on its own set of releases.

A release's shard is its `graygate.dev/shard` label, or `default` without one; an operator serves one shard
(`graygate run --shard NAME`, `default` unless told). Each shard keeps its own finalizer, so a shard never removes
another's (Kopf drops a finalizer no handler of its own needs): the default shard keeps `graygate.dev/finalizer`,
the one every release had before shards existed, and shard `a` uses `graygate.dev/finalizer-a`.

A release moved to another shard: Kopf removes the old shard's finalizer in the same cycle in which it only asks
that shard's daemon to stop, so the daemon's tick in flight may still write after the finalizer is gone (up to the
daemon's cancellation timeout, when it runs an operator that does not end its tick at once on a stop). The new
shard therefore knows a move (`moved_in`) by another shard's finalizer or by `status.shard` (the shard whose
operator last wrote the status) naming another shard, and then waits for that finalizer to go and a settle longer
than that timeout before its first tick.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_SHARD",
    "SHARD_LABEL",
    "check_shard_name",
    "finalizer_of",
    "foreign_finalizers",
    "moved_in",
    "shard_of",
]

SHARD_LABEL = "graygate.dev/shard"
DEFAULT_SHARD = "default"
_FINALIZER = "graygate.dev/finalizer"
# A label value that also fits in a finalizer's name part (63 characters, after "finalizer-").
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def check_shard_name(name: str) -> str:
    """`name` if it can name a shard (lower-case letters, digits and `-`, at most 40); ValueError otherwise."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} cannot name a shard: use at most 40 lower-case letters, digits and '-'")
    return name


def shard_of(labels: Mapping[str, str]) -> str:
    """The shard that owns a release with these labels."""
    return labels.get(SHARD_LABEL) or DEFAULT_SHARD


def finalizer_of(shard: str) -> str:
    """The finalizer the operators of `shard` put on their releases."""
    return _FINALIZER if shard == DEFAULT_SHARD else f"{_FINALIZER}-{shard}"


def foreign_finalizers(finalizers: Iterable[str], shard: str) -> list[str]:
    """graygate finalizers on a release that belong to shards other than `shard`: a shard still letting it go."""
    mine = finalizer_of(shard)
    return [f for f in finalizers if f != mine and (f == _FINALIZER or f.startswith(f"{_FINALIZER}-"))]


def moved_in(finalizers: Iterable[str], last_shard: str | None, shard: str) -> bool:
    """Whether a release `shard` starts on may still be written by another shard: that one's finalizer is on it, or
    `last_shard` (`status.shard`, None before any operator that records it wrote the status) is another shard."""
    return bool(foreign_finalizers(finalizers, shard)) or (last_shard is not None and last_shard != shard)
