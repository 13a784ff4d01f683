"""The pure core of graygate: the phase table, the plan, verdicts and their fold, and `decide`.

No I/O, no clock, no asyncio: time is a parameter and the outside world arrives as `Observations`. The service
calls `gates_due` to know which gates to run (if any), then `decide`, then acts on the `Decision` it returns.
"""

from graygate.domain.analysis import WORKLOAD_GATE, Assessment, assess, debounce
from graygate.domain.decide import analysis_due, decide
from graygate.domain.decision import (
    Abort,
    Advance,
    Complete,
    Decision,
    EventType,
    Hold,
    MarkInvalid,
    Pause,
    Promote,
    Reason,
    Reassert,
    Restart,
    Resume,
    Rollback,
)
from graygate.domain.errors import DomainError, IllegalTransition, MeasurementMismatch, UnknownGate
from graygate.domain.jsonpath import Found, Missing, lookup
from graygate.domain.judges import judge, judge_http_probe, judge_prometheus
from graygate.domain.measurements import (
    ApiCompatMeasurement,
    ConfigState,
    EtcdConfigMeasurement,
    Fetched,
    HotReloadMeasurement,
    HttpProbeMeasurement,
    Measurement,
    MetricParityMeasurement,
    PrometheusMeasurement,
    QueryReading,
    SeriesValue,
)
from graygate.domain.observations import Observations, RouteReading, WorkloadReading
from graygate.domain.phases import ACTIVE, TABLE, TERMINAL, Event, allowed_events, mermaid, transition
from graygate.domain.plan import FULL, PauseStep, Plan, PlanStep, WeightStep, plan_of, step_display
from graygate.domain.precheck import gates_due, pre_check_gates, pre_checks_passed
from graygate.domain.progress import needs_snapshot
from graygate.domain.promql import QueryPlan, QueryScope, plan_queries
from graygate.domain.proportions import Comparison, ErrorRates, Excess, compare_error_rates
from graygate.domain.verdicts import ORDER, Verdict, is_worse, worst, worst_verdict

__all__ = [
    "ACTIVE",
    "FULL",
    "ORDER",
    "TABLE",
    "TERMINAL",
    "WORKLOAD_GATE",
    "Abort",
    "Advance",
    "ApiCompatMeasurement",
    "Assessment",
    "Comparison",
    "Complete",
    "ConfigState",
    "Decision",
    "DomainError",
    "ErrorRates",
    "EtcdConfigMeasurement",
    "Event",
    "EventType",
    "Excess",
    "Fetched",
    "Found",
    "Hold",
    "HotReloadMeasurement",
    "HttpProbeMeasurement",
    "IllegalTransition",
    "MarkInvalid",
    "Measurement",
    "MeasurementMismatch",
    "MetricParityMeasurement",
    "Missing",
    "Observations",
    "Pause",
    "PauseStep",
    "Plan",
    "PlanStep",
    "PrometheusMeasurement",
    "Promote",
    "QueryPlan",
    "QueryReading",
    "QueryScope",
    "Reason",
    "Reassert",
    "Restart",
    "Resume",
    "Rollback",
    "RouteReading",
    "SeriesValue",
    "UnknownGate",
    "Verdict",
    "WeightStep",
    "WorkloadReading",
    "allowed_events",
    "analysis_due",
    "assess",
    "compare_error_rates",
    "debounce",
    "decide",
    "gates_due",
    "is_worse",
    "judge",
    "judge_http_probe",
    "judge_prometheus",
    "lookup",
    "mermaid",
    "needs_snapshot",
    "plan_of",
    "plan_queries",
    "pre_check_gates",
    "pre_checks_passed",
    "step_display",
    "transition",
    "worst",
    "worst_verdict",
]
