"""A release as a tick sees it, read from the body Kopf watched, and the release policy applied before any tick.

Apart from the handlers so that they stay wiring (Kopf's arguments in, one call out) and so that what a tick is
given, the allowlist rule included, is decided where it can be tested without Kopf. The gate templates a release's
`analysis.gateRefs` name are read here, before its tick, when its run has not expanded them yet
(`domain.release.gate_templates`); their gates then go through the allowlist like any other.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from graygate.api import COMMAND_ANNOTATION, CanaryReleaseStatus, parse_spec
from graygate.api.gates import Gate
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.validation import InvalidSpec
from graygate.domain.analysis.webhook_payload import own_annotations
from graygate.domain.release.claims import Claim, RouteKey, claims_of, contested_by
from graygate.domain.release.gate_templates import TemplatesRead, refs_to_read, templated
from graygate.ports.gatetemplates import GateTemplateReader
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
    templates: TemplatesRead | None = None,
    shard: str | None = None,
) -> ReleaseView:
    """The release in `body`, ticking from `status`; `held` is every route claim in its namespace; `templates`,
    the gate templates read for its refs; `shard`, the shard of the operator ticking it."""
    spec: CanaryReleaseSpec | InvalidSpec = parse_spec(dict(body.get("spec") or {}), release=ref.name)
    meta = body.get("metadata") or {}
    generation = int(meta.get("generation") or 1)
    fresh = None
    if not isinstance(spec, InvalidSpec):
        expanded = templated(spec, status, generation, templates or {}, ref.namespace)
        spec, fresh = (expanded, None) if isinstance(expanded, InvalidSpec) else (expanded.spec, expanded.fresh)
    # A release that names a URL outside the allowlist is refused before it moves any traffic. Once the canary has
    # traffic (the operator restarted with a narrower list), an Invalid spec would freeze that weight with no checks:
    # the gate runner refuses the call instead, and the release's own policy for a failed check applies.
    # The stage hooks are called as `webhook` gates: their URLs go through the same allowlist.
    called = (*spec.analysis.gates, *(hook.gate() for hook in spec.hooks)) if not isinstance(spec, InvalidSpec) else ()
    if status.canary_weight == 0 and (refused := refusals(called)):
        spec = InvalidSpec(problems=refused)
    contested = None
    if not isinstance(spec, InvalidSpec):
        me = Claim(created_at=created_at(meta, now), release=ref.name)
        contested = contested_by(me, claims_of(ref.namespace, spec), held)
    return ReleaseView(
        ref=ref,
        generation=generation,
        spec=spec,
        status=status,
        command=(meta.get("annotations") or {}).get(COMMAND_ANNOTATION),
        contested=contested,
        labels={str(key): str(value) for key, value in (meta.get("labels") or {}).items()},
        annotations=own_annotations(meta.get("annotations")),
        expanded_gates=fresh if not isinstance(spec, InvalidSpec) else None,
        shard=shard,
    )


async def read_templates(
    ref: ReleaseRef, body: Any, status: CanaryReleaseStatus, reader: GateTemplateReader | None
) -> TemplatesRead:
    """The gate templates the release's refs name, read when its run has not expanded them yet (else none).

    Raises `GraygateError` when they cannot be read (the tick is retried; the release is not judged on it)."""
    spec = parse_spec(dict(body.get("spec") or {}), release=ref.name)
    generation = int((body.get("metadata") or {}).get("generation") or 1)
    if isinstance(spec, InvalidSpec) or reader is None or not (refs := refs_to_read(spec, status, generation)):
        return {}
    return await reader.read(ref.namespace, refs)


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
