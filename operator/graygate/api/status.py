"""The status of a CanaryRelease: everything the operator needs to resume after a crash, and nothing else.

Why: graygate is level-based. Each tick re-reads the real traffic weights and decides from `spec` + `status` +
what it observes now, so `status` is the release's whole memory: where the plan is, since when, what the gates
said, which manual command was already handled, and the snapshot of the routes to restore on rollback. Only the
operator writes it (Kopf's own bookkeeping belongs in annotations), and lists are bounded so the object stays small.

Conditions follow the Kubernetes conventions and the kstatus vocabulary (`Ready`, `Reconciling`, `Stalled`)
so `kubectl wait --for=condition=Ready`, Helm's `--wait` and Argo CD read a release the way they read a
Deployment.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from graygate.api.base import StatusModel
from graygate.api.gate_templates import ExpandedGates
from graygate.api.gates import MAX_GATES
from graygate.api.hooks import MAX_HOOKS, HookStage
from graygate.api.release_config import ConfigStatus

__all__ = [
    "MAX_EVIDENCE",
    "MAX_EVIDENCE_TEXT",
    "MAX_HISTORY",
    "MAX_HOOK_MESSAGE",
    "MAX_QUERY_TEXT",
    "MAX_RESULTS",
    "MAX_STEP_FAILURES",
    "CanaryReleaseStatus",
    "CommandRecord",
    "Condition",
    "ConditionStatus",
    "GateResult",
    "GateState",
    "HookRecord",
    "OriginalRoute",
    "Outcome",
    "PauseReason",
    "Phase",
    "StepFailures",
    "Transition",
]

# One analysis always fits: a verdict per gate, plus the canary workload's availability.
MAX_RESULTS = MAX_GATES + 1
MAX_HISTORY = 20
MAX_QUERY_TEXT = 2048
MAX_EVIDENCE = 16
"""Entries of one result's evidence; each key and value is cut to `MAX_EVIDENCE_TEXT` characters."""
MAX_EVIDENCE_TEXT = 256
MAX_STEP_FAILURES = 20
"""Steps whose failures a gate's state keeps, the latest ones."""
MAX_HOOK_MESSAGE = 512


class Phase(StrEnum):
    """Where a release is in its life."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"
    INVALID = "Invalid"


class Outcome(StrEnum):
    """A gate's verdict, from best to worst: the order in which many verdicts fold into one."""

    PASS = "Pass"
    WAITING = "Waiting"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAIL = "Fail"


class PauseReason(StrEnum):
    """Why a release is Paused, which decides what `resume` does."""

    AWAITING_PROMOTION = "AwaitingPromotion"
    INCONCLUSIVE = "Inconclusive"
    """Too many inconclusive analyses in a row, nothing showing users failing: paused at the step's weight."""
    INCONCLUSIVE_WITHDRAWN = "InconclusiveWithdrawn"
    """Too many inconclusive analyses in a row while a gate saw users failing on the canary: paused with the canary
    at 0 % and its header routes removed; `resume` starts the step again from its weight."""
    MANUAL = "Manual"
    PROGRESS_DEADLINE = "ProgressDeadline"
    """The run went `progressDeadline` without progress under `onProgressDeadline: pause`: paused at its weight,
    with `Stalled`; `resume` starts the deadline's clock again."""
    AWAITING_CONFIRMATION = "AwaitingConfirmation"
    """Every step passed and a `confirmPromotion` hook has not answered 2xx yet: the analysis goes on at the last
    step's weight and the release completes once every such hook has approved; `promote` skips the wait."""


class ConditionStatus(StrEnum):
    """The status of a condition, as Kubernetes spells it."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """One observation of the release's state, following the Kubernetes condition conventions."""

    type: str = Field(max_length=316)
    """The condition's type: `Ready`, `Reconciling`, `Stalled`, `GatesPassing` or `TrafficInSync`."""

    status: ConditionStatus
    """`True`, `False` or `Unknown`."""

    reason: str = Field(max_length=1024)
    """A CamelCase word saying why the condition is in this status."""

    message: str = Field(default="", max_length=32768)
    """A human sentence with the details."""

    last_transition_time: datetime
    """When the status last changed."""

    observed_generation: int | None = None
    """The `metadata.generation` the condition was computed from."""


class GateResult(StatusModel):
    """One gate verdict, kept in the bounded list of recent results."""

    gate: str
    """The gate's name (`canaryWorkload` for the canary workload's availability)."""

    kind: str
    """The gate's kind, e.g. `httpProbe`."""

    # Serialised as `verdict`; the JSON name becomes `outcome` in the next API version.
    outcome: Outcome = Field(alias="verdict")
    """`Pass`, `Waiting`, `Inconclusive`, `Error` or `Fail`."""

    value: str | None = None
    """What was observed, as text (e.g. `503`, `412ms`)."""

    threshold: str | None = None
    """What it was compared with, as text (e.g. `in [200]`, `<= 300ms`)."""

    reason: str = ""
    """Why the verdict is what it is."""

    query: str | None = Field(default=None, max_length=MAX_QUERY_TEXT)
    """The resolved query or queries the verdict was computed from, one `role: query` per line (e.g.
    `canary: sum by (response_code) (...)`), cut to 2,048 characters."""

    evidence: dict[str, Annotated[str, Field(max_length=MAX_EVIDENCE_TEXT)]] = Field(
        default_factory=dict, max_length=MAX_EVIDENCE
    )
    """The numbers behind the verdict, by name (e.g. `canaryErrors: 12`, `alpha: 0.05`), at most 16 entries."""

    at: datetime
    """When the measurement was taken."""

    step: int = 0
    """The 0-based step index the release was at."""

    weight: int = 0
    """The canary weight the release was at."""

    dry_run: bool | None = None
    """`true` for a `dryRun` gate's verdict: reported, but counted toward nothing (it never failed, held or paused
    the release); absent otherwise."""


class StepFailures(StatusModel):
    """How many samples of one gate failed at one step."""

    step: int
    """The 0-based step index, as in `recentResults`."""

    failures: int
    """Failed samples of the gate at that step, those that only counted toward `failureThreshold` included."""


class GateState(StatusModel):
    """The running counters of one gate across analyses."""

    name: str
    """The gate's name."""

    consecutive_successes: int = 0
    """Passing samples in a row, toward `successThreshold`."""

    consecutive_failures: int = 0
    """Failing samples in a row, toward `failureThreshold`."""

    failures: int = 0
    """Failed verdicts of this gate over the release."""

    consecutive_errors: int = 0
    """`Error` verdicts in a row: the gate could not measure at all (Prometheus unreachable or timing out, a query
    it rejected, an unreadable Secret). Counted apart from failures because the fix is in the plumbing, not in the
    release; the release-level `consecutiveErrors` is compared with `analysis.consecutiveErrorLimit`."""

    errors: int = 0
    """`Error` verdicts of this gate over the release."""

    # Serialised as `lastVerdict`; the JSON name becomes `lastOutcome` in the next API version.
    last_outcome: Outcome | None = Field(default=None, alias="lastVerdict")
    """The gate's latest verdict."""

    step_failures: tuple[StepFailures, ...] = Field(default=(), max_length=MAX_STEP_FAILURES)
    """Failed samples per step of this run, oldest first, only steps with a failure, the latest 20 steps: what a
    flapping gate did stays readable after its Events expire."""


class Transition(StatusModel):
    """One move of the release: a phase change or a step change."""

    from_: Phase = Field(alias="from")
    """The phase before."""

    to: Phase
    """The phase after."""

    reason: str
    """The CamelCase reason, the same word as the Kubernetes Event's reason."""

    message: str = ""
    """A human sentence."""

    at: datetime
    """When it happened."""

    step: int = 0
    """The 0-based step index after the move."""

    weight: int = 0
    """The canary weight after the move."""


class CommandRecord(StatusModel):
    """The last `graygate.dev/command` annotation value the operator handled; the same value is never run twice."""

    value: str
    """The annotation value exactly as it was, e.g. `promote/42` (one longer than 256 characters by its beginning,
    length and SHA-256)."""

    result: Literal["Applied", "Ignored"]
    """`Applied`, or `Ignored` when the command made no sense in the release's phase or could not be parsed."""

    message: str = ""
    """What the command did, or why it was ignored."""

    at: datetime
    """When it was handled."""


class OriginalRoute(StatusModel):
    """A managed route exactly as it was before graygate first changed it. The router owns the format."""

    virtual_service: str
    """The name of the VirtualService (or, with `kind: HTTPRoute`, of the HTTPRoute)."""

    route: str | None = None
    """The HTTP route's (or the HTTPRoute rule's) name; absent for the object's single unnamed route."""

    kind: Literal["VirtualService", "HTTPRoute"] = "VirtualService"
    """The kind of object the route lives in."""

    route_json: str
    """The route as the router captured it (opaque JSON text, restored byte for byte)."""


class HookRecord(StatusModel):
    """What one stage hook answered in the current run (a run that starts over forgets it)."""

    name: str
    """The hook's name."""

    stage: HookStage
    """The hook's stage."""

    # Serialised as `lastVerdict`, as a gate's.
    last_outcome: Outcome | None = Field(default=None, alias="lastVerdict")
    """The verdict of its latest answer: `Pass` for a 2xx (and every `expect` check holding), else `Fail` or
    `Error` (no answer at all)."""

    at: datetime | None = None
    """When it was last called; the next call of a polled hook is one analysis interval later."""

    message: str = Field(default="", max_length=MAX_HOOK_MESSAGE)
    """Its latest answer: the status code and the first bytes of the body, or why there was none."""

    calls: int = 0
    """How many times it was called in this run."""

    passed: bool = False
    """It answered 2xx in this run: a `preRollout` hook passed, a `confirm…` hook approved (kept: it is not asked
    again), a `postRollout` hook was delivered, a `rollback` hook rolled the release back."""


class CanaryReleaseStatus(StatusModel):
    """The release's state, written only by the operator."""

    phase: Phase = Phase.PENDING
    """`Pending`, `Progressing`, `Paused`, `Promoting` (the primary rolls out the released revision), `Succeeded`,
    `Failed` (rolled back), `Aborted` or `Invalid`."""

    message: str = ""
    """What the release is doing or waiting for, in one sentence."""

    observed_generation: int | None = None
    """The `metadata.generation` of the spec this status was computed from."""

    current_step_index: int = 0
    """The 0-based index of the current step in the plan."""

    step_display: str = ""
    """The current step as `n/m` (1-based), for `kubectl get`."""

    canary_weight: int = 0
    """The canary weight graygate wants on every managed route; the real weight is re-read and re-asserted every
    tick."""

    pause_reason: PauseReason | None = None
    """Why the release is Paused."""

    revision: str | None = None
    """With `workload`: the revision of its pod template this run releases (or released: after a failure, the one
    that failed, until the next revision arrives)."""
    stable_revision: str | None = None
    """With `workload`: the revision the primary Deployment was last given: the last promoted one."""
    run_cause: str = ""
    """Why the current run started (a new revision, a retry, a spec change), in one sentence."""
    progress_at: datetime | None = None
    """When the run last made progress (started, moved a step, resumed, began promoting): `progressDeadline`
    counts from here."""
    scale_down_at: datetime | None = None
    """With `workload`: when the canary is scaled to 0 (`scaleDownDelay` after a rollback or a promotion)."""
    started_at: datetime | None = None
    """When the current run of the release started sending traffic to the canary."""

    step_started_at: datetime | None = None
    """When the current step started; a timed pause counts from here, also across operator restarts."""

    next_check_at: datetime | None = None
    """When the gates run next."""

    last_analysis_at: datetime | None = None
    """When the gates last ran."""

    # Serialised as `lastVerdict`; the JSON name becomes `lastOutcome` in the next API version.
    last_outcome: Outcome | None = Field(default=None, alias="lastVerdict")
    """The worst verdict of the latest analysis."""

    failure_count: int = 0
    """Failed non-critical gate results over this run, compared with `analysis.failureLimit`."""

    inconclusive_count: int = 0
    """Inconclusive analyses in a row, compared with `analysis.inconclusiveLimit`. An analysis where a gate could
    not measure (and none was inconclusive) leaves it as it is."""

    consecutive_errors: int = 0
    """Analyses in a row with a gate that could not measure (`Error`), compared with
    `analysis.consecutiveErrorLimit`; the first analysis without one resets it."""

    gates: tuple[GateState, ...] = Field(
        default=(), json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    )
    """The running counters of each gate."""

    recent_results: tuple[GateResult, ...] = Field(default=(), max_length=MAX_RESULTS)
    """The latest gate verdicts, newest last."""

    history: tuple[Transition, ...] = Field(default=(), max_length=MAX_HISTORY)
    """The latest transitions, newest last."""

    last_command: CommandRecord | None = None
    """The last manual command handled."""

    original_routes: tuple[OriginalRoute, ...] = ()
    """The managed routes as they were before graygate first changed them; restored on rollback and abort."""

    header_routes: bool = False
    """True while a `setHeaderRoute` step has coloured traffic: graygate keeps its header routes (named
    `graygate-<release>-header…`) above the managed routes, and removes them when the release ends."""

    expanded_gates: ExpandedGates | None = None
    """The gates `analysis.gateRefs` expanded to for this run, with their arguments: what is checked, exactly."""

    config: ConfigStatus | None = None
    """The release's etcd keys (`spec.config`): their previous values and where restoring them stands."""

    hooks: tuple[HookRecord, ...] = Field(
        default=(),
        max_length=MAX_HOOKS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """What each stage hook (`spec.hooks`, but `rollout` ones, which are gates) answered in the current run: an
    approval given survives an operator restart here."""

    conditions: tuple[Condition, ...] = Field(
        default=(), json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
    )
    """Kubernetes conditions: `Ready`, `Reconciling`, `Stalled` (kstatus) and `GatesPassing`, `TrafficInSync`."""

    shard: str | None = Field(default=None, max_length=40)
    """The shard whose operator last wrote this status: a shard that finds another's here waits for that one's tick
    in flight to end before its own first tick."""
