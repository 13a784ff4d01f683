"""`analysis.gateRefs` expansion as tables: argument types and defaults, missing and unknown arguments with their
field paths, secret arguments only where a gate takes a Secret key reference, name collisions, missing and invalid
templates; and the run's snapshot: a template changed mid-run changes nothing until the run starts over."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, InvalidSpec, parse_spec
from graygate.api.gate_templates import GateTemplateSpec
from graygate.domain.release.bookkeeping import start_over
from graygate.domain.release.gate_templates import (
    SNAPSHOT_UNUSABLE,
    Expanded,
    TemplatesRead,
    record,
    refs_to_read,
    templated,
)
from graygate.ports.release import ReleaseRef
from graygate.release_view import release_view

RATE = "ClusterGateTemplate"
TEMPLATE: dict[str, Any] = {
    "args": [
        {"name": "minSuccessRate", "type": "number"},
        {"name": "window", "type": "duration", "default": "1m"},
        {"name": "service", "type": "string", "default": "checkout"},
        {"name": "token", "type": "secret"},
    ],
    "gates": [
        {
            "name": "success-rate",
            "critical": True,
            "prometheus": {
                "window": "{{ args.window }}",
                "source": {"bearerToken": "{{ args.token }}"},
                "requestSuccessRate": {"min": "{{ args.minSuccessRate }}"},
            },
        },
        {
            "name": "errors",
            "prometheus": {
                "query": {"expr": 'sum(rate(errors{service="{{ args.service }}"}[{{ interval }}]))', "max": 5}
            },
        },
    ],
}
TOKEN = {"name": "prometheus-auth", "key": "token"}


def spec(*refs: dict[str, Any], gates: tuple[dict[str, Any], ...] = ()) -> CanaryReleaseSpec:
    parsed = parse_spec(
        {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "checkout", "subset": "stable"},
            "canary": {"host": "checkout", "subset": "canary"},
            "canaryWorkload": {"name": "checkout-canary"},
            "stableWorkload": {"name": "checkout-stable"},
            "stepWeights": [10, 50],
            "analysis": {"interval": "10s", "gates": list(gates), "gateRefs": list(refs)},
        }
    )
    assert isinstance(parsed, CanaryReleaseSpec), parsed
    return parsed


def ref(args: dict[str, Any], name: str = "rate", kind: str = RATE) -> dict[str, Any]:
    return {"name": name, "kind": kind, "args": args}


def expand(
    release: CanaryReleaseSpec, templates: TemplatesRead | None = None, status: CanaryReleaseStatus | None = None
) -> Expanded | InvalidSpec:
    read = {(RATE, "rate"): TEMPLATE} if templates is None else templates
    return templated(release, status or CanaryReleaseStatus(), 1, read, "shop")


def problems(found: Expanded | InvalidSpec) -> tuple[str, ...]:
    assert isinstance(found, InvalidSpec), found
    return found.problems


def test_a_ref_expands_to_the_templates_gates_with_typed_arguments_and_defaults() -> None:
    found = expand(spec(ref({"minSuccessRate": "99.5", "token": TOKEN})))
    assert isinstance(found, Expanded)
    rate, errors = found.spec.analysis.gates
    assert (rate.name, rate.critical, errors.name) == ("success-rate", True, "errors")
    assert rate.prometheus is not None
    assert rate.prometheus.request_success_rate is not None
    assert rate.prometheus.request_success_rate.min == 99.5, "a whole-value reference keeps the number"
    assert rate.prometheus.window is not None
    assert rate.prometheus.window.total_seconds() == 60, "the default"
    assert errors.prometheus is not None
    assert errors.prometheus.query is not None
    assert errors.prometheus.query.expr == 'sum(rate(errors{service="checkout"}[{{ interval }}]))', (
        "a reference in a text is replaced by its text; the gate's own placeholders stay"
    )
    assert found.fresh is not None
    (recorded,) = found.fresh.refs
    assert recorded.template == "ClusterGateTemplate/rate"
    assert recorded.args == {
        "minSuccessRate": "99.5",
        "window": "1m",
        "service": "checkout",
        "token": "secret prometheus-auth/token",
    }
    assert [gate["name"] for gate in recorded.gates] == ["success-rate", "errors"]


def test_a_secret_argument_becomes_the_gates_secret_reference_and_never_a_value() -> None:
    found = expand(spec(ref({"minSuccessRate": 99, "token": TOKEN})))
    assert isinstance(found, Expanded)
    source = found.spec.analysis.gates[0].prometheus.source  # type: ignore[union-attr]
    assert source is not None
    assert source.bearer_token is not None
    assert (source.bearer_token.secret_ref.name, source.bearer_token.key) == ("prometheus-auth", "token")
    assert found.fresh is not None
    assert found.fresh.refs[0].gates[0]["prometheus"]["source"]["bearerToken"] == {
        "secretRef": {"name": "prometheus-auth"},
        "key": "token",
    }


WHERE = "spec.analysis.gateRefs[0]"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            {"token": TOKEN}, f"{WHERE}.args.minSuccessRate: required argument missing (number)", id="missing"
        ),
        pytest.param(
            {"minSuccessRate": 99, "token": TOKEN, "threshold": 1},
            f"{WHERE}.args.threshold: unknown argument (ClusterGateTemplate/rate declares: minSuccessRate, service, "
            "token, window)",
            id="unknown",
        ),
        pytest.param(
            {"minSuccessRate": "high", "token": TOKEN}, f"{WHERE}.args.minSuccessRate: 'high' is not a number", id="nan"
        ),
        pytest.param(
            {"minSuccessRate": True, "token": TOKEN},
            f"{WHERE}.args.minSuccessRate: must be a number, not bool",
            id="bool",
        ),
        pytest.param(
            {"minSuccessRate": 99, "token": TOKEN, "window": "a minute"},
            f"{WHERE}.args.window: 'a minute' is not a duration",
            id="duration",
        ),
        pytest.param(
            {"minSuccessRate": 99, "token": "prometheus-auth"},
            f"{WHERE}.args.token: must be a Secret key reference {{name, key}}",
            id="secret-as-text",
        ),
        pytest.param(
            {"minSuccessRate": 99, "token": {"name": "Bad_Name", "key": "token"}},
            f"{WHERE}.args.token: name 'Bad_Name' is not a Secret name",
            id="secret-name",
        ),
        pytest.param(
            {"minSuccessRate": 150, "token": TOKEN},
            f"{WHERE} (ClusterGateTemplate/rate, gate success-rate): prometheus.requestSuccessRate.min: input should "
            "be less than or equal to 100",
            id="expanded-gate-invalid",
        ),
    ],
)
def test_wrong_arguments_are_invalid_with_their_field_path(args: dict[str, Any], expected: str) -> None:
    found = problems(expand(spec(ref(args))))
    assert any(problem.startswith(expected) for problem in found), found


def _template_with(gate: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(TEMPLATE)
    changed["gates"] = [gate]
    return changed


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        pytest.param(
            {"name": "probe", "httpProbe": {"url": "{{ args.token }}"}},
            "the secret argument token can only be the whole value of a field that takes a Secret key reference",
            id="secret-in-a-url-field",
        ),
        pytest.param(
            {"name": "probe", "httpProbe": {"url": "http://x/?t={{ args.token }}"}},
            "the secret argument token cannot be part of a text",
            id="secret-in-a-text",
        ),
    ],
)
def test_a_secret_argument_goes_only_where_a_gate_takes_a_secret_reference(gate: dict[str, Any], expected: str) -> None:
    found = problems(expand(spec(ref({"minSuccessRate": 99, "token": TOKEN})), {(RATE, "rate"): _template_with(gate)}))
    assert any(expected in problem for problem in found), found


def test_a_ca_bundle_takes_a_secret_argument_too() -> None:
    gate = {"name": "rate", "prometheus": {"source": {"ca": "{{ args.token }}"}, "requestSuccessRate": {"min": 99}}}
    found = expand(spec(ref({"minSuccessRate": 99, "token": TOKEN})), {(RATE, "rate"): _template_with(gate)})
    assert isinstance(found, Expanded)
    ca = found.spec.analysis.gates[0].prometheus.source.ca  # type: ignore[union-attr]
    assert ca is not None
    assert ca.secret_ref is not None
    assert (ca.secret_ref.name, ca.key) == ("prometheus-auth", "token")


ARGS = {"minSuccessRate": 99, "token": TOKEN}


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        pytest.param(
            spec(ref(ARGS), gates=({"name": "errors", "httpProbe": {"url": "http://checkout/healthz"}},)),
            f"{WHERE}: ClusterGateTemplate/rate has a gate errors, a name spec.analysis.gates[0] already uses",
            id="inline",
        ),
        pytest.param(
            spec(ref(ARGS), ref(ARGS)),
            "spec.analysis.gateRefs[1]: ClusterGateTemplate/rate has a gate success-rate, a name "
            f"{WHERE} (ClusterGateTemplate/rate) already uses",
            id="same-template-twice",
        ),
    ],
)
def test_a_gate_name_used_twice_is_invalid_naming_both_places(release: CanaryReleaseSpec, expected: str) -> None:
    found = problems(expand(release))
    assert any(problem.startswith(expected) for problem in found), found


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(RATE, f"{WHERE}: ClusterGateTemplate gone not found", id="cluster"),
        pytest.param(
            "GateTemplate",
            f"{WHERE}: GateTemplate gone not found in namespace shop (a GateTemplate is read from the release's own "
            "namespace",
            id="namespaced",
        ),
    ],
)
def test_a_missing_template_is_invalid(kind: str, expected: str) -> None:
    found = problems(expand(spec(ref(ARGS, name="gone", kind=kind)), {(kind, "gone"): None}))
    assert any(problem.startswith(expected) for problem in found), found


def test_an_invalid_template_is_invalid_naming_its_problem() -> None:
    broken = {"args": [{"name": "token", "type": "secret", "default": TOKEN}], "gates": TEMPLATE["gates"][:1]}
    found = problems(expand(spec(ref(ARGS)), {(RATE, "rate"): broken}))
    assert any("ClusterGateTemplate/rate is not a valid template" in problem for problem in found), found


def test_a_template_refuses_references_to_undeclared_arguments() -> None:
    with pytest.raises(ValueError, match="gate g references undeclared arguments: nope"):
        GateTemplateSpec.model_validate({"gates": [{"name": "g", "httpProbe": {"url": "{{ args.nope }}"}}]})


def test_a_namespace_on_a_ref_is_refused() -> None:
    refused = parse_spec(
        {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "a"},
            "canary": {"host": "b"},
            "stepWeights": [10],
            "analysis": {"gateRefs": [{"name": "rate", "namespace": "platform"}]},
        }
    )
    assert isinstance(refused, InvalidSpec)
    assert "spec.analysis.gateRefs[0]: namespace platform: a GateTemplate is read from the release's own" in (
        refused.message
    )


# ---- the run's snapshot ------------------------------------------------------------------------------------------


def test_a_run_keeps_its_expanded_gates_when_the_template_changes_and_expands_again_when_it_starts_over() -> None:
    release = spec(ref(ARGS))
    first = expand(release)
    assert isinstance(first, Expanded)
    assert first.fresh is not None
    status = record(CanaryReleaseStatus(), first.fresh)
    assert refs_to_read(release, status, 1) == (), "a current snapshot: nothing to read"
    stricter = copy.deepcopy(TEMPLATE)
    stricter["gates"][0]["prometheus"]["requestSuccessRate"]["min"] = 99.9
    mid_run = templated(release, status, 1, {(RATE, "rate"): stricter}, "shop")
    assert isinstance(mid_run, Expanded)
    assert mid_run.fresh is None
    assert mid_run.spec == first.spec, "the run is judged by the gates it started with"
    deleted = templated(release, status, 1, {}, "shop")
    assert isinstance(deleted, Expanded)
    assert deleted.spec == first.spec, "even with its template gone"
    assert refs_to_read(release, status, 2) == release.analysis.gate_refs, "a new generation expands again"
    restarted = start_over(status)
    assert restarted.expanded_gates is None, "a run that starts over (a retry, a new revision) expands again"
    again = templated(release, restarted, 1, {(RATE, "rate"): stricter}, "shop")
    assert isinstance(again, Expanded)
    assert again.fresh is not None
    assert again.fresh.refs[0].gates[0]["prometheus"]["requestSuccessRate"]["min"] == 99.9


def test_the_view_takes_the_snapshot_and_sends_expanded_gates_through_the_allowlist() -> None:
    probe = {"args": [{"name": "url"}], "gates": [{"name": "health", "httpProbe": {"url": "{{ args.url }}"}}]}
    body = {
        "metadata": {"name": "checkout", "generation": 1},
        "spec": {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "a"},
            "canary": {"host": "b"},
            "stepWeights": [10],
            "analysis": {"gateRefs": [{"name": "probe", "args": {"url": "http://evil.example/"}}]},
        },
    }

    def refusals(gates: Any) -> tuple[str, ...]:
        return tuple(f"gate {g.name}: refused" for g in gates if "evil" in (g.http_probe.url if g.http_probe else ""))

    ref_ = ReleaseRef("shop", "checkout", "uid")
    now = datetime.now(UTC)
    view = release_view(ref_, body, CanaryReleaseStatus(), (), refusals, now, {("GateTemplate", "probe"): probe})
    assert isinstance(view.spec, InvalidSpec)
    assert view.spec.problems == ("gate health: refused",)
    assert view.expanded_gates is None, "nothing recorded for a refused spec"
    body["spec"]["analysis"]["gateRefs"][0]["args"]["url"] = "http://fine.example/"  # type: ignore[index]
    view = release_view(ref_, body, CanaryReleaseStatus(), (), refusals, now, {("GateTemplate", "probe"): probe})
    assert isinstance(view.spec, CanaryReleaseSpec)
    assert view.expanded_gates is not None


def _with_hooks(*hooks: dict[str, Any], gates: int = 0) -> CanaryReleaseSpec:
    """A release with one ref to the two-gate template, `gates` inline probes, and `hooks`."""
    inline = [{"name": f"probe-{i}", "httpProbe": {"url": "http://checkout/healthz"}} for i in range(gates)]
    parsed = parse_spec(
        {
            "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
            "stable": {"host": "checkout", "subset": "stable"},
            "canary": {"host": "checkout", "subset": "canary"},
            "canaryWorkload": {"name": "checkout-canary"},
            "stableWorkload": {"name": "checkout-stable"},
            "stepWeights": [10, 50],
            "analysis": {"interval": "30s", "gates": inline, "gateRefs": [ref(ARGS)]},
            "hooks": list(hooks),
        }
    )
    assert isinstance(parsed, CanaryReleaseSpec), parsed
    return parsed


def _hook(name: str, stage: str = "rollout") -> dict[str, Any]:
    return {"name": name, "stage": stage, "webhook": {"url": "http://receiver/hook"}}


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        pytest.param(
            _with_hooks(_hook("errors")),
            f"{WHERE}: ClusterGateTemplate/rate has a gate errors, a name spec.hooks[0] already uses",
            id="rollout-hook",
        ),
        pytest.param(
            _with_hooks(_hook("smoke", "preRollout"), _hook("success-rate", "postRollout")),
            f"{WHERE}: ClusterGateTemplate/rate has a gate success-rate, a name spec.hooks[1] already uses",
            id="any-stage",
        ),
        pytest.param(
            _with_hooks(*(_hook(f"hook-{i}") for i in range(2)), gates=13),
            "spec.analysis.gateRefs: with its templates' 2 gate(s) and 2 rollout hook(s), which run as gates, the "
            "release has 17; at most 16 are allowed",
            id="too-many-with-rollout-hooks",
        ),
    ],
)
def test_an_expanded_gate_is_checked_against_the_hooks(release: CanaryReleaseSpec, expected: str) -> None:
    found = problems(expand(release))
    assert any(problem.startswith(expected) for problem in found), found


@pytest.mark.parametrize(
    ("hooks", "gates"),
    [
        pytest.param((_hook("smoke"),), 13, id="16-with-a-rollout-hook"),
        pytest.param((_hook("smoke", "preRollout"), _hook("tell", "postRollout")), 14, id="other-stages-not-counted"),
    ],
)
def test_hooks_of_other_names_and_within_the_limit_expand(hooks: tuple[dict[str, Any], ...], gates: int) -> None:
    found = expand(_with_hooks(*hooks, gates=gates))
    assert isinstance(found, Expanded), found
    assert len(found.spec.analysis.gates) == gates + 2


# ---- a snapshot that no longer validates ------------------------------------------------------------------------


def _snapshot(*gates: dict[str, Any], generation: int = 1) -> CanaryReleaseStatus:
    return CanaryReleaseStatus.model_validate(
        {
            "expandedGates": {
                "generation": generation,
                "refs": [{"template": f"{RATE}/rate", "args": {}, "gates": list(gates)}],
            }
        }
    )


USABLE = {"name": "success-rate", "prometheus": {"requestSuccessRate": {"min": 99}}}
UNPARSEABLE = {"name": "success-rate", "aKindOfALaterVersion": {"min": 99}}


@pytest.mark.parametrize(
    ("status", "templates", "reads", "outcome"),
    [
        pytest.param(_snapshot(USABLE), {}, False, "kept", id="a usable snapshot: nothing read, kept"),
        pytest.param(
            _snapshot(UNPARSEABLE), {(RATE, "rate"): TEMPLATE}, True, "fresh", id="unparseable: read and expanded"
        ),
        pytest.param(
            _snapshot(UNPARSEABLE), {}, True, "invalid", id="unparseable and the template gone: Invalid, saying why"
        ),
        pytest.param(
            _snapshot(USABLE, generation=2), {(RATE, "rate"): TEMPLATE}, True, "fresh", id="another generation"
        ),
    ],
)
def test_the_templates_are_read_whenever_the_snapshot_cannot_be_used(
    status: CanaryReleaseStatus, templates: TemplatesRead, reads: bool, outcome: str
) -> None:
    release = spec(ref(ARGS))
    assert bool(refs_to_read(release, status, 1)) is reads, "refs_to_read and templated agree on the snapshot"
    found = templated(release, status, 1, templates if reads else {}, "shop")
    if outcome == "invalid":
        said = problems(found)
        assert any("not found" in problem for problem in said)
        assert SNAPSHOT_UNUSABLE in said, "a mid-run expansion says why the templates were read again"
        return
    assert isinstance(found, Expanded), found
    assert (found.fresh is not None) is (outcome == "fresh")
    names = [gate.name for gate in found.spec.analysis.gates]
    assert names == (["success-rate", "errors"] if outcome == "fresh" else ["success-rate"])
