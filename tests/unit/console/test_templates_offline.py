"""`graygate lint` and `graygate check` expand `analysis.gateRefs` as the operator does, with the templates in the
files given (a file may hold templates next to releases); a missing argument or template names its field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graygate.api import Outcome
from graygate.console.check import UrlOverride
from graygate.console.check_run import CheckRequest, run_check
from graygate.console.lint import lint_files, lint_text
from graygate.errors import GraygateError
from tests.cluster_support import ProbeTarget

TEMPLATE = """
apiVersion: graygate.dev/v1alpha1
kind: ClusterGateTemplate
metadata: {name: health}
spec:
  args:
  - {name: url, type: string}
  - {name: timeout, type: duration, default: 2s}
  gates:
  - name: health
    httpProbe: {url: "{{ args.url }}", timeout: "{{ args.timeout }}"}
"""
RELEASE = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout, namespace: shop}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 20}]
  analysis:
    interval: 10s
    gateRefs: [{name: health, kind: ClusterGateTemplate, args: {url: "http://checkout-canary/healthz"}}]
"""
HOOK_NAMED_HEALTH = """  hooks:
  - {name: health, stage: rollout, webhook: {url: "http://hooks.qa/health", timeout: 2s}}
"""


def test_lint_expands_refs_with_the_templates_of_the_same_file() -> None:
    problems, count = lint_text(TEMPLATE + "---" + RELEASE, "all.yaml")
    assert (problems, count) == ([], 1)


def test_lint_reads_templates_from_every_file_given() -> None:
    problems, count = lint_files([(TEMPLATE, "templates.yaml"), (RELEASE, "release.yaml")])
    assert (problems, count) == ([], 1)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param(
            [(TEMPLATE, "t.yaml"), (RELEASE.replace('args: {url: "http://checkout-canary/healthz"}', "args: {}"), "r")],
            "spec.analysis.gateRefs[0].args.url: required argument missing (string)",
            id="missing-argument",
        ),
        pytest.param(
            [(RELEASE, "r")],
            "spec.analysis.gateRefs[0]: ClusterGateTemplate health not found",
            id="missing-template",
        ),
        pytest.param(
            [(TEMPLATE.replace("default: 2s", "default: soon"), "t.yaml"), (RELEASE, "r")],
            "spec.analysis.gateRefs[0]: ClusterGateTemplate/health argument timeout: default: 'soon' is not a duration",
            id="bad-default",
        ),
        pytest.param(
            [(TEMPLATE, "t.yaml"), (RELEASE + HOOK_NAMED_HEALTH, "r")],
            "spec.analysis.gateRefs[0]: ClusterGateTemplate/health has a gate health, a name "
            "spec.hooks[0] already uses",
            id="hook-named-like-a-template-gate",
        ),
        pytest.param(
            [(TEMPLATE.replace("{{ args.url }}", "{{ args.uri }}"), "t.yaml")],
            "spec: gate health references undeclared arguments: uri",
            id="template-itself",
        ),
    ],
)
def test_lint_names_the_field_of_each_template_problem(texts: list[tuple[str, str]], expected: str) -> None:
    problems, _ = lint_files(texts)
    assert any(problem.message.startswith(expected) for problem in problems), [str(p) for p in problems]


@pytest.fixture
def target() -> Iterator[ProbeTarget]:
    server = ProbeTarget()
    yield server
    server.close()


def test_check_runs_the_templates_gates_and_overrides_reach_them(target: ProbeTarget) -> None:
    request = CheckRequest(
        manifest_text=RELEASE, source="r", templates=(TEMPLATE,), urls=(UrlOverride("health", target.url),)
    )
    report = run_check(request)
    (health,) = report.gates
    assert (health.name, health.outcome, health.value) == ("health", Outcome.PASS, "200")
    assert target.hits == 1


def test_check_refuses_a_release_whose_template_is_missing() -> None:
    with pytest.raises(GraygateError, match=r"spec\.analysis\.gateRefs\[0\]: ClusterGateTemplate health not found"):
        run_check(CheckRequest(manifest_text=RELEASE, source="r"))


def test_get_shows_each_templates_gates_and_arguments() -> None:
    from graygate.console.render import render_release

    expanded = {
        "generation": 1,
        "refs": [
            {
                "template": "ClusterGateTemplate/istio-success-rate",
                "args": {"minSuccessRate": "99", "window": "1m"},
                "gates": [{"name": "success-rate", "prometheus": {"requestSuccessRate": {"min": 99}}}],
            }
        ],
    }
    release = {"metadata": {"namespace": "shop", "name": "checkout"}, "spec": {}, "status": {"expandedGates": expanded}}
    text = render_release(release, (), color=False)
    lines = text.splitlines()
    at = lines.index("ClusterGateTemplate/istio-success-rate: success-rate")
    assert lines[at + 1] == "  minSuccessRate=99, window=1m"


def test_a_template_no_release_uses_is_linted_on_its_own_at_its_own_lines() -> None:
    unused = TEMPLATE.replace("{name: health}", "{name: unused}").replace("    httpProbe:", "    httpProbee:")
    problems, count = lint_text(unused + "---" + RELEASE.replace("    gateRefs: [", "    gateRefs: [] #"), "all.yaml")
    assert count == 1
    assert [(p.line, p.message) for p in problems] == [
        (11, "spec.gates[0].httpProbee: unknown field; did you mean httpProbe?")
    ]
    assert lint_text(TEMPLATE + "---" + RELEASE, "all.yaml") == ([], 1), "an argument reference is no error"
