"""PromQL injection: every hostile value of the attempts table is written as a value where its placeholder stands,
or refused; through the renderer, through a release's spec (Invalid, the field named) and through a gate
template's arguments."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import manifest

from graygate.api import UnsafeValue, render_template
from graygate.api.spec import CanaryReleaseSpec
from graygate.domain.release.template_args import substitute
from tests.hostile_input import PROMQL_ATTEMPTS, PromQLAttempt


@pytest.mark.parametrize("attempt", PROMQL_ATTEMPTS, ids=[a.what for a in PROMQL_ATTEMPTS])
def test_a_hostile_value_stays_a_value_or_is_refused(attempt: PromQLAttempt) -> None:
    values = {"canaryHost": attempt.value, "namespace": "shop"}
    if attempt.expected is None:
        with pytest.raises(UnsafeValue, match=r"\{\{ canaryHost \}\}"):
            render_template(attempt.template, values)
    else:
        assert render_template(attempt.template, values) == attempt.expected


@pytest.mark.parametrize("attempt", PROMQL_ATTEMPTS, ids=[a.what for a in PROMQL_ATTEMPTS])
def test_a_gate_template_argument_is_written_like_a_variable(attempt: PromQLAttempt) -> None:
    template = attempt.template.replace("{{ canaryHost }}", "{{ args.service }}")
    gate = {"name": "errors", "prometheus": {"query": {"expr": template, "max": 1}}}
    expanded, problems = substitute(gate, {"service": attempt.value})
    if attempt.expected is None:
        assert len(problems) == 1
        assert problems[0].startswith("prometheus.query.expr: {{ args.service }}")
    else:
        assert problems == []
        assert expanded["prometheus"]["query"]["expr"] == attempt.expected


def test_an_argument_in_stable_expr_is_written_too() -> None:
    query = {"expr": "x", "stableExpr": 'y{s="{{ args.s }}"}', "maxRatio": 2}
    expanded, problems = substitute({"name": "g", "prometheus": {"query": query}}, {"s": '"} or vector(1) #'})
    assert problems == []
    assert expanded["prometheus"]["query"]["stableExpr"] == 'y{s="\\"} or vector(1) #"}'


def test_an_argument_outside_a_query_is_left_as_text() -> None:
    gate = {"name": "g", "httpProbe": {"url": "http://a/{{ args.p }}", "expectStatus": [200]}}
    expanded, problems = substitute(gate, {"p": 'x"y'})
    assert problems == []
    assert expanded["httpProbe"]["url"] == 'http://a/x"y'


def test_a_number_argument_outside_quotes_is_written() -> None:
    gate = {"name": "g", "prometheus": {"query": {"expr": "x > {{ args.limit }}", "max": 1}}}
    expanded, problems = substitute(gate, {"limit": 0.5})
    assert problems == []
    assert expanded["prometheus"]["query"]["expr"] == "x > 0.5"


def _spec(host: str, expr: str) -> dict[str, Any]:
    body = manifest()
    body["canary"] = {**body["canary"], "host": host}
    body["analysis"] = {"interval": "10s", "gates": [{"name": "q", "prometheus": {"query": {"expr": expr, "max": 1}}}]}
    return body


def test_a_release_whose_host_cannot_be_written_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"gate q: prometheus.query.expr: \{\{ canaryHost \}\} outside quotes"):
        CanaryReleaseSpec.model_validate(_spec("app-x", "x > {{ canaryHost }}"))


def test_a_release_whose_host_is_hostile_but_quoted_is_valid() -> None:
    spec = CanaryReleaseSpec.model_validate(_spec('app"} or vector(1) #', 'x{h="{{ canaryHost }}"}'))
    assert spec.canary.host == 'app"} or vector(1) #'
