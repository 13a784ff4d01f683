"""`graygate lint` reports each broken CanaryRelease with its document and field path, and ignores other kinds."""

from __future__ import annotations

import pytest

from graygate.console.lint import lint_text

GOOD = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 20}, {pause: {}}]
"""


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("setWeight: 20", "setWeight: 120"), "spec.steps[0].setWeight"),
        (("{pause: {}}", "{pause: {}, setWeight: 5}"), "spec.steps[1]"),
        (("name: checkout}\nspec", "name: Checkout_1}\nspec"), "metadata.name"),
        (("graygate.dev/v1alpha1", "graygate.dev/v1"), "apiVersion"),
        (("subset: canary", "subset: stable"), "canary"),
    ],
)
def test_each_problem_names_the_field(edit: tuple[str, str], expected: str) -> None:
    problems, count = lint_text(GOOD.replace(*edit), "release.yaml")
    assert count == 1
    assert problems, f"expected a problem at {expected}"
    assert any(expected in str(problem) for problem in problems), problems
    assert all(str(problem).startswith("release.yaml:") for problem in problems)


def test_a_good_release_and_other_kinds_pass() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + GOOD
    assert lint_text(text, "all.yaml") == ([], 1)


def test_broken_yaml_is_one_clear_problem() -> None:
    problems, count = lint_text("kind: [", "broken.yaml")
    assert count == 0
    assert "not valid YAML" in str(problems[0])


COLOURED_GATEWAY = """
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: NAME}
spec:
  trafficRouting: {gatewayAPI: {httpRoutes: [{name: public, rules: [web]}]}}
  stable: {host: checkout}
  canary: {host: checkout-v2}
  steps: [{setHeaderRoute: {match: [{headers: {x-canary: {exact: always}}}]}}, {pause: {}}]
"""


def test_a_release_name_too_long_for_its_header_rule_names_is_a_problem() -> None:
    long_name = "c" * 234
    problems, _ = lint_text(COLOURED_GATEWAY.replace("NAME", long_name), "release.yaml")
    [problem] = problems
    assert "spec.trafficRouting.gatewayAPI.httpRoutes[0].rules[0]: the header rule beside rule web" in str(problem)
    assert "at most 253 in an HTTPRoute's rules[].name: shorten metadata.name" in str(problem)
    assert lint_text(COLOURED_GATEWAY.replace("NAME", long_name[1:]), "release.yaml") == ([], 1)
