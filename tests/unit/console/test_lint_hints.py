"""The hints `graygate lint` adds to errors, and how a field path finds its line: each rule on its own."""

from __future__ import annotations

import pytest

from graygate.api.gate_templates import GateTemplateSpec
from graygate.api.spec import CanaryReleaseSpec
from graygate.console.lint_hints import (
    ARGO_README,
    FLAGGER_README,
    foreign_field,
    foreign_spec,
    nearest_field,
    number_hint,
)
from graygate.console.lint_source import parse_path, read_documents, split_message


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("progresDeadline",), "progressDeadline"),
        (("stepweights",), "stepWeights"),
        (("analysis", "gates", 0, "criticl"), "critical"),
        (("analysis", "gates", 3, "prometheus", "requestSuccessRate", "minRequest"), "minRequests"),
        (("steps", 1, "pause", "durration"), "duration"),
        (("canary", "subsett"), "subset"),
        (("analysis", "gates", 0, "zzzz"), None),
        (("nowhere", "deeper"), None),
    ],
)
def test_the_nearest_field_at_that_place_in_the_model(location: tuple[str | int, ...], expected: str | None) -> None:
    assert nearest_field(CanaryReleaseSpec, location) == expected


def test_a_template_spec_has_its_own_fields() -> None:
    assert nearest_field(GateTemplateSpec, ("argz",)) == "args"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"targetRef": {}, "analysis": {"threshold": 5}}, [("a Flagger Canary", "targetRef, analysis.threshold")]),
        ({"analysis": {"metrics": [], "webhooks": []}}, [("a Flagger Canary", "analysis.metrics, analysis.webhooks")]),
        ({"strategy": {"canary": {}}}, [("an Argo Rollouts Rollout", "strategy")]),
        ({"canary": {"steps": []}}, [("an Argo Rollouts Rollout", "canary.steps")]),
        ({"analysis": {"templates": []}}, [("an Argo Rollouts Rollout", "analysis.templates")]),
        ({"canary": {"host": "x"}, "analysis": {"interval": "1m"}, "steps": []}, []),
        ("not a mapping", []),
    ],
)
def test_another_tools_spec_is_named_with_its_readme_section(spec: object, expected: list[tuple[str, str]]) -> None:
    found = foreign_spec(spec)
    assert len(found) == len(expected)
    for message, (tool, fields) in zip(found, expected, strict=True):
        assert message.startswith(f"this looks like {tool} spec ({fields}), not graygate's: see ")
        assert message.endswith(FLAGGER_README if "Flagger" in tool else ARGO_README)


def test_a_foreign_field_points_at_the_readme_instead_of_a_near_name() -> None:
    assert foreign_field(("analysis", "stepWeight")) == FLAGGER_README
    assert foreign_field(("strategy",)) == ARGO_README
    assert foreign_field(("stepWeight",)) is None


@pytest.mark.parametrize(
    ("location", "value", "expected"),
    [
        (("steps", 0, "setWeight"), 0.2, "write 20 for 20 %"),
        (("stepWeights", 1), 0.05, "write 5 for 5 %"),
        (("steps", 0, "setWeight"), 120, None),
        (("steps", 0, "setWeight"), 12.5, None),
        (("analysis", "gates", 0, "prometheus", "requestDuration", "quantile"), 99, "write 0.99 for p99"),
        (("analysis", "gates", 0, "prometheus", "requestDuration", "quantile"), 99.9, "write 0.999 for p99.9"),
        (("analysis", "gates", 0, "prometheus", "requestDuration", "quantile"), 0.99, None),
        (("steps", 0, "setWeight"), True, None),
        (("steps", 0, "setWeight"), "0.2", None),
    ],
)
def test_a_ratio_where_a_percentage_is_meant_and_back(
    location: tuple[str | int, ...], value: object, expected: str | None
) -> None:
    hint = number_hint(location, value)
    if expected is None:
        assert hint is None
    else:
        assert expected in str(hint)


TEXT = """\
# a comment
apiVersion: v1
kind: ConfigMap
---
spec:
  steps:
    - setWeight: 10
    - pause:
        duration: 5m
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec", (5, 1)),
        ("spec.steps[0].setWeight", (7, 7)),
        ("spec.steps[1]", (8, 7)),
        ("spec.steps[1].pause.duration", (9, 9)),
        ("spec.steps[1].pause.missing", (8, 7)),
        ("spec.analysis.gates[0]", (5, 1)),
        ("", (5, 1)),
    ],
)
def test_a_path_finds_its_line_and_column_or_its_nearest_ancestors(path: str, expected: tuple[int, int]) -> None:
    documents = read_documents(TEXT)
    assert not isinstance(documents, str)
    first, second = documents
    assert first.locate(("kind",)) == (3, 1)
    assert second.locate(parse_path(path)) == expected


def test_a_message_is_split_into_its_path_and_why() -> None:
    assert split_message("spec.steps[2].setWeight: too big: 120") == (
        ("spec", "steps", 2, "setWeight"),
        "spec.steps[2].setWeight",
        "too big: 120",
    )
    assert split_message("not valid YAML: oops") == ((), "", "not valid YAML: oops")


def test_broken_yaml_says_where() -> None:
    assert read_documents("a: [1\nb: 2\n") == (
        "2:2: not valid YAML: while parsing a flow sequence expected ',' or ']', but got ':'"
    )
