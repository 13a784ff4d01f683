"""Is this process serving every release it should? A release that exists but has had no daemon for a while is
not being served: the operator's view of the API's resources is wrong, and only a fresh start repairs it.

Why: Kopf discovers the CanaryRelease resource once at startup and again only when a CRD changes. An operator that
starts while the API server restarts (a control plane upgrade, a crash of both at once) can find the group missing
from discovery for a moment; Kopf then serves nothing, logs a warning once, and the process looks alive forever.
The chaos bench found it (an operator restarted just as its API server was). The remedy Kubernetes expects of a
process in a state it cannot leave is to exit, so that it is started again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["ServingWatch"]


@dataclass
class ServingWatch:
    """Fed the uids of the releases the API lists and of those this process holds a slot for, now and then;
    names those listed and unserved for `grace` or longer (a daemon starts within seconds of a release's creation,
    and a deletion holds a slot until it is done)."""

    grace: timedelta
    _unserved_since: dict[str, datetime] = field(default_factory=dict)

    def observe(self, now: datetime, listed: Collection[str], served: Collection[str]) -> list[str]:
        unserved = set(listed) - set(served)
        self._unserved_since = {uid: self._unserved_since.get(uid, now) for uid in unserved}
        return sorted(uid for uid, since in self._unserved_since.items() if now - since >= self.grace)
