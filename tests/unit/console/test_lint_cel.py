"""The CRD's CEL rules evaluated on a raw spec by `graygate lint`: every broken rule across fields at once, even
next to field errors, and nothing where the raw value is not the type the rule expects."""

from __future__ import annotations

from typing import Any

import pytest

from graygate.api.expressions import evaluate_rule
from graygate.api.spec import CanaryReleaseSpec
from graygate.console.lint_cel import rule_problems
from graygate.console.lint_hints import model_schema

RAW: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
    "steps": [{"setWeight": 10}],
}


def problems(**fields: Any) -> list[str]:
    return rule_problems(model_schema(CanaryReleaseSpec), {**RAW, **fields})


def test_a_valid_spec_breaks_no_rule() -> None:
    assert problems() == []
    CanaryReleaseSpec.model_validate(RAW)


def test_every_broken_rule_is_reported_next_to_field_errors() -> None:
    found = problems(
        canary={"host": "checkout", "subset": "stable"},
        stepInterval="1m",
        progressDeadline="20s",
        steps=[{"setWeight": 500}, {"setWeight": 10, "pause": {}}],
    )
    assert found == [
        "spec: progressDeadline must be longer than analysis.interval: a step needs at least one analysis to progress",
        "spec: stepInterval goes with stepWeights; with steps, use pause",
        "spec: stable and canary must be different destinations",
        "spec.steps[1]: a step needs exactly one of setWeight, pause or setHeaderRoute",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"progressDeadline": "ten minutes"},  # duration() fails on it: the field's own error says why
        {"steps": "not a list"},
        {"stable": ["not", "a", "mapping"]},
    ],
)
def test_a_value_of_the_wrong_type_is_left_to_the_models(fields: dict[str, Any]) -> None:
    assert problems(**fields) == []


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("has(self.a)", {"a": 1}, True),
        ("has(self.a)", {}, False),
        ("self.a > 1", {}, None),
        ("self.isSorted()", [1, 2], None),
        ("self.size()", "abc", None),
        ("does not parse (", {}, None),
    ],
)
def test_a_rule_is_true_false_or_not_judged(rule: str, value: object, expected: bool | None) -> None:
    assert evaluate_rule(rule, value) is expected
