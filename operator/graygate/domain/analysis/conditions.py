"""A gate's `successCondition` and `failureCondition`: CEL over the measured `result`, in place of the kind's own
thresholds.

Why apart from the judges: the conditions are the same for every kind; a kind only says what its `result` holds
(`Measurement.result()`). The order is Argo Rollouts': a true `failureCondition` fails; otherwise a given
`successCondition` passes when true, and when false fails (without a `failureCondition`) or is `Inconclusive` (with
one, since neither said yes); a false `failureCondition` alone passes. An expression that cannot be evaluated on
this result (a key missing at run time) is an `Error` with the library's message. A measurement that could not be
taken, or a result with nothing to evaluate (`result()` None), keeps the kind's own verdict: the conditions judge
values, and a missing value is the kind's to judge (its `Error`, its probe's unanswered request, its `onNoData`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace

from graygate.api.expressions import ConditionError, evaluate_condition
from graygate.api.gates import Gate
from graygate.api.status import Outcome
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.verdicts import Verdict

__all__ = ["has_conditions", "judge_conditions"]

_MAX_VALUE = 160


def has_conditions(gate: Gate) -> bool:
    """Whether the gate's conditions, not its kind's thresholds, decide its verdict."""
    return gate.success_condition is not None or gate.failure_condition is not None


def judge_conditions(gate: Gate, measurement: Measurement, base: Verdict) -> Verdict:
    """The sample verdict under the gate's conditions; `base` is the kind's own verdict of `measurement`, whose
    query and inputs the conditions' verdict keeps."""
    result = None if measurement.error is not None else measurement.result()
    if result is None:
        return base
    success, failure = gate.success_condition, gate.failure_condition
    threshold = "; ".join(
        f"{name}: {expression}"
        for name, expression in (("failureCondition", failure), ("successCondition", success))
        if expression is not None
    )
    shown = _show(result)
    decided = replace(base, value=shown, threshold=threshold, evidence={}, harm=None)
    try:
        if failure is not None and evaluate_condition(failure, result):
            return replace(decided, outcome=Outcome.FAIL, reason=f"failureCondition is true: {failure}", harm=base.harm)
        if success is None:
            return replace(decided, outcome=Outcome.PASS, reason=f"failureCondition is false: {failure}")
        if evaluate_condition(success, result):
            return replace(decided, outcome=Outcome.PASS, reason=f"successCondition is true: {success}")
    except ConditionError as error:
        return replace(decided, outcome=Outcome.ERROR, reason=f"a condition could not be evaluated: {error}")
    if failure is None:
        return replace(decided, outcome=Outcome.FAIL, reason=f"successCondition is false: {success}", harm=base.harm)
    reason = f"successCondition is false and failureCondition is false: {success}"
    return replace(decided, outcome=Outcome.INCONCLUSIVE, reason=reason, harm=base.harm)


def _show(result: Mapping[str, object]) -> str:
    """The result as compact JSON (NaN as null), its single values first so a long body or vector cannot hide
    them, cut for the status."""
    ordered = dict(sorted(result.items(), key=lambda item: (isinstance(item[1], Mapping | list | str), item[0])))
    text = json.dumps(_finite(ordered), separators=(",", ":"), default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _finite(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
