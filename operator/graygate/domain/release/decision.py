"""Decisions: what one tick concluded, as a value the service can act on without thinking.

Why: the service must not re-derive anything. A decision says which weight the canary should have (or that the
original routes must be restored, or that traffic is left alone), carries the complete status to write, and names
its reason from a fixed vocabulary that doubles as the Kubernetes Event reason and the history entry. Each variant
is its own class so the service can `match` on it and a test can assert the kind of move, not just its effects.

Acting on a decision (in this order, so a crash between two lines is repaired by the next tick):
1. write `decision.status` (the intent, the route snapshot included);
2. if `restore_routes`: restore `status.originalRoutes` (canary weight 0, every header route removed), elif
   `target_weight` is not None: set that canary weight on every managed route (stable gets the rest) and make the
   header routes above them exactly `header_routes` (none: remove them); both must be idempotent;
3. if `event` is not None: record a Kubernetes Event (type `event`, reason `reason`, note `message`); then one
   Event per entry of `notes`, in order (a gate that started failing, the release's config: one tick can have both);
4. if `workload`: promote (copy the followed Deployment's pod template, when it is still at the revision named, to
   the primary, creating it if needed), then scale the followed Deployment; each is idempotent and read back on
   the next tick;
5. if `config`: make that etcd write (`ApplyConfig`, guarded by the recorded revisions) or restore
   (`RestoreConfig`); its outcome is read back on the next tick, never reported to the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from graygate.api.header_routes import HeaderRouteMatch
from graygate.api.status import CanaryReleaseStatus
from graygate.domain.config.release_config import ConfigAction

__all__ = [
    "Abort",
    "Advance",
    "Complete",
    "Decision",
    "EventType",
    "Hold",
    "MarkInvalid",
    "Note",
    "Pause",
    "Promote",
    "Reason",
    "Reassert",
    "Restart",
    "Resume",
    "Rollback",
    "StartPromotion",
    "WorkloadMove",
]

EventType = Literal["Normal", "Warning"]


class Reason(StrEnum):
    """The fixed vocabulary of reasons: Event reasons, history reasons, condition reasons."""

    INITIALIZED = "Initialized"
    ROUTES_RECORDED = "RoutesRecorded"
    ROUTE_UNAVAILABLE = "RouteUnavailable"
    CANARY_HAS_TRAFFIC = "CanaryAlreadyRouted"
    WAITING_FOR_WORKLOAD = "WaitingForWorkload"
    DESTINATION_MISSING = "DestinationRuleMissing"
    FROZEN = "Frozen"
    PRE_CHECKING = "PreChecking"
    PRE_CHECK_FAILED = "PreCheckFailed"
    STARTED = "Started"
    STEP_ADVANCED = "StepAdvanced"
    WAITING = "Waiting"
    DRIFT = "DriftCorrected"
    AWAITING_PROMOTION = "AwaitingPromotion"
    INCONCLUSIVE = "Inconclusive"
    PAUSED = "Paused"
    RESUMED = "Resumed"
    PROMOTED = "Promoted"
    PROMOTED_FULL = "PromotedFull"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    RETRIED = "Retried"
    SPEC_CHANGED = "SpecChanged"
    INVALID_SPEC = "InvalidSpec"
    COMMAND_IGNORED = "CommandIgnored"
    SETTLED = "Settled"
    CONFIG_APPLYING = "ConfigApplying"
    CONFIG_APPLIED = "ConfigApplied"
    CONFIG_UNAVAILABLE = "ConfigUnavailable"
    CONFIG_FAILED = "ConfigFailed"
    CONFIG_RESTORING = "ConfigRestoring"
    CONFIG_RESTORED = "ConfigRestored"
    CONFIG_CONFLICT = "ConfigConflict"
    GATE_FAILED = "GateFailed"
    GATE_WAITING = "GateWaiting"
    CANNOT_MEASURE = "CannotMeasure"
    CONFIG_APPLY_FAILED = "ConfigApplyFailed"
    CONFIG_RESTORE_FAILED = "ConfigRestoreFailed"
    NEW_REVISION = "NewRevision"
    ADOPTED = "Adopted"
    PROMOTING = "Promoting"
    PROGRESS_DEADLINE = "ProgressDeadlineExceeded"
    SCALED_DOWN = "ScaledDown"
    WORKLOAD_MISSING = "WorkloadMissing"
    PRIMARY_NOT_OURS = "PrimaryNotOurs"
    PRIMARY_LOST = "PrimaryLost"
    AWAITING_CONFIRMATION = "AwaitingConfirmation"
    PRE_ROLLOUT = "PreRollout"
    HOOK_FAILED = "HookFailed"
    HOOK_CONFIRMED = "HookConfirmed"
    HOOK_DELIVERED = "HookDelivered"
    ROLLBACK_HOOK = "RollbackHook"


@dataclass(frozen=True, slots=True)
class Note:
    """A further Event a decision records: about the release's config, or the evidence of a gate that started
    failing."""

    type: EventType
    reason: Reason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadMove:
    """A change to the followed workload's Deployments. `promote`: give the primary the followed Deployment's pod
    template, only if that template is still at this revision (a newer one is the next run's, never promoted
    unchecked). `canary_replicas`: scale the followed Deployment to this many replicas."""

    promote: str | None = None
    canary_replicas: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to do this tick. Never instantiated itself: one of the variants below."""

    reason: Reason
    message: str
    status: CanaryReleaseStatus
    target_weight: int | None = None
    restore_routes: bool = False
    header_routes: tuple[HeaderRouteMatch, ...] = ()
    """The header matches coloured towards the canary while the release runs (a `setHeaderRoute` step); applied
    together with `target_weight`."""
    event: EventType | None = None
    config: ConfigAction | None = None
    """An etcd write for the release's config keys (`spec.config`), made after the traffic change."""
    notes: tuple[Note, ...] = ()
    """Events to record after `event`, each of its own reason; none is ever dropped for another."""
    workload: WorkloadMove | None = None
    """A change to the followed workload (promotion, scaling), made after the traffic change."""

    @property
    def touches_traffic(self) -> bool:
        """True when the service must call the router."""
        return self.restore_routes or self.target_weight is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold(Decision):
    """Nothing to change in traffic: waiting (for analysis, a pause, the workload, the routes) or settled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Advance(Decision):
    """Start the release or move to the next step; `target_weight` is the new step's weight."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reassert(Decision):
    """The real weight drifted from the wanted one (someone edited the route, or a crash interrupted the last
    change): set `target_weight` again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(Decision):
    """Stop advancing: an indefinite pause step, too many inconclusive analyses, or a manual pause. It keeps the
    weight, except after inconclusive analyses that saw users failing on the canary: then `target_weight` is 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume(Decision):
    """A human let a paused release go on at its current step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Promote(Decision):
    """A human skipped the rest of the current step; `target_weight` is the next step's weight."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Complete(Decision):
    """The plan is done (or `promote-full`): the canary gets 100 % and the release has Succeeded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartPromotion(Decision):
    """The plan of a followed workload is done: the canary gets 100 % while the primary takes its revision."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollback(Decision):
    """A check failed: restore the original routes (canary 0 %); the release has Failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Abort(Decision):
    """A human stopped the release: restore the original routes (canary 0 %); the release is Aborted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart(Decision):
    """Start over from step 0 (retry, or the spec changed): canary back to 0 %, the release is Pending again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkInvalid(Decision):
    """The spec cannot be used: record why and leave traffic exactly as it is."""
