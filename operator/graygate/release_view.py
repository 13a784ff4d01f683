"""A release as a tick sees it, read from the body Kopf watched, and the release policy applied before any tick.

Apart from the handlers so that they stay wiring (Kopf's arguments in, one call out) and so that what a tick is
given, the allowlist rule included, is decided where it can be tested without Kopf.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from graygate.api import COMMAND_ANNOTATION, CanaryReleaseStatus, parse_spec
from graygate.api.gates import Gate
from graygate.api.validation import InvalidSpec
from graygate.domain.analysis.webhook_payload import own_annotations
from graygate.domain.release.claims import Claim, RouteKey, claims_of, contested_by
from graygate.ports.release import ReleaseRef
from graygate.service import ReleaseView

log = logging.getLogger("graygate.release_view")

Refusals = Callable[[Sequence[Gate]], tuple[str, ...]]
"""What the probe URL allowlist refuses among the URLs some gates would call, one sentence per URL."""


def release_view(
    ref: ReleaseRef,
    body: Any,
    status: CanaryReleaseStatus,
    held: Sequence[tuple[RouteKey, Claim]],
    refusals: Refusals,
    now: dt.datetime,
) -> ReleaseView:
    """The release in `body`, ticking from `status`; `held` is every route claim in its namespace."""
    spec = parse_spec(dict(body.get("spec") or {}), release=ref.name)
    # A release that names a URL outside the allowlist is refused before it moves any traffic. Once the canary has
    # traffic (the operator restarted with a narrower list), an Invalid spec would freeze that weight with no checks:
    # the gate runner refuses the call instead, and the release's own policy for a failed check applies.
    # The stage hooks are called as `webhook` gates: their URLs go through the same allowlist.
    called = (*spec.analysis.gates, *(hook.gate() for hook in spec.hooks)) if not isinstance(spec, InvalidSpec) else ()
    if status.canary_weight == 0 and (refused := refusals(called)):
        spec = InvalidSpec(problems=refused)
    meta = body.get("metadata") or {}
    contested = None
    if not isinstance(spec, InvalidSpec):
        me = Claim(created_at=created_at(meta, now), release=ref.name)
        contested = contested_by(me, claims_of(ref.namespace, spec), held)
    return ReleaseView(
        ref=ref,
        generation=int(meta.get("generation") or 1),
        spec=spec,
        status=status,
        command=(meta.get("annotations") or {}).get(COMMAND_ANNOTATION),
        contested=contested,
        labels={str(key): str(value) for key, value in (meta.get("labels") or {}).items()},
        annotations=own_annotations(meta.get("annotations")),
    )


def status_of(body: Any) -> CanaryReleaseStatus:
    """The status in `body`; a fresh one when it cannot be read (then the release starts over, logged)."""
    raw = dict(body.get("status") or {})
    try:
        return CanaryReleaseStatus.model_validate(raw)
    except ValueError:
        log.warning("unreadable status, starting from a fresh one")
        return CanaryReleaseStatus()


def created_at(meta: Any, now: dt.datetime) -> dt.datetime:
    """When the release was created (`now` for a body that does not say yet): the older release owns a route."""
    stamp = meta.get("creationTimestamp")
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else now
