"""Argo CD's comparison, modelled by tests/argocd_diff.py, row by row; and with it the claim of docs/gitops.md's
"One commit per version": under the rules of argocd/ignore-differences.yaml nothing graygate writes on the Git
layout the docs show is a difference a sync would put back."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from graygate.api.spec import CanaryReleaseSpec
from graygate.domain.release.revisions import primary_body
from graygate.routers.virtualservice_write import with_canary_weight
from graygate.routing import target_of
from tests.argocd_diff import IgnoreRule, fields_changed, load_rules, load_rules_file

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "argocd" / "ignore-differences.yaml"
GITOPS = REPO / "docs" / "gitops.md"
RULES = load_rules_file(RULES_FILE)

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "checkout"}}
VIRTUAL_SERVICE = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "checkout"}}


def _with(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(base), **fields}


def _routes(*weights: int) -> dict[str, Any]:
    route = [{"destination": {"host": f"h{i}"}, "weight": w} for i, w in enumerate(weights)]
    return {"http": [{"name": "primary", "route": route}]}


@pytest.mark.parametrize(
    ("applied", "live", "rules", "expected"),
    [
        (_with(DEPLOYMENT, spec={"replicas": 4}), _with(DEPLOYMENT, spec={"replicas": 4}), [], []),
        (_with(DEPLOYMENT, spec={"replicas": 4}), _with(DEPLOYMENT, spec={"replicas": 0}), [], ["/spec/replicas"]),
        (_with(DEPLOYMENT, spec={"replicas": 4}), _with(DEPLOYMENT, spec={"replicas": 0}), RULES, []),
        # Fields only the live object has (defaults, status, annotations) are not Git's: never compared.
        (_with(DEPLOYMENT, spec={}), _with(DEPLOYMENT, spec={"replicas": 1, "paused": False}, status={}), [], []),
        # A field Git has and the live object lacks differs.
        (_with(DEPLOYMENT, spec={"paused": True}), _with(DEPLOYMENT, spec={}), RULES, ["/spec/paused"]),
        # A scalar of another type differs: 1 is not "1", False is not 0.
        (_with(DEPLOYMENT, spec={"replicas": "1"}), _with(DEPLOYMENT, spec={"replicas": 1}), [], ["/spec/replicas"]),
        (_with(DEPLOYMENT, spec={"paused": False}), _with(DEPLOYMENT, spec={"paused": 0}), [], ["/spec/paused"]),
        # A map where the live object has a list (or the other way round) differs as a whole.
        (_with(DEPLOYMENT, spec={"a": {"b": 1}}), _with(DEPLOYMENT, spec={"a": [1]}), [], ["/spec/a"]),
        # The rules are per object: the Deployment's rule does not cover another Deployment or another kind.
        (
            _with(DEPLOYMENT, metadata={"name": "payments"}, spec={"replicas": 4}),
            _with(DEPLOYMENT, metadata={"name": "payments"}, spec={"replicas": 0}),
            RULES,
            ["/spec/replicas"],
        ),
        (
            _with(DEPLOYMENT, apiVersion="apps.example/v1", spec={"replicas": 4}),
            _with(DEPLOYMENT, apiVersion="apps.example/v1", spec={"replicas": 0}),
            RULES,
            ["/spec/replicas"],
        ),
        # Lists element by element, by index.
        (
            _with(VIRTUAL_SERVICE, spec=_routes(100, 0)),
            _with(VIRTUAL_SERVICE, spec=_routes(80, 20)),
            [],
            ["/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight"],
        ),
        (_with(VIRTUAL_SERVICE, spec=_routes(100, 0)), _with(VIRTUAL_SERVICE, spec=_routes(80, 20)), RULES, []),
        # ... and by length: a destination graygate would insert is a difference the weight rule does not hide.
        (
            _with(VIRTUAL_SERVICE, spec=_routes(100)),
            _with(VIRTUAL_SERVICE, spec=_routes(80, 20)),
            RULES,
            ["/spec/http/0/route"],
        ),
        # The weight rule hides weights, nothing else of a route.
        (
            _with(VIRTUAL_SERVICE, spec=_routes(100, 0)),
            _with(VIRTUAL_SERVICE, spec={"http": [{"name": "main", "route": _routes(100, 0)["http"][0]["route"]}]}),
            RULES,
            ["/spec/http/0/name"],
        ),
        # An escaped JSON pointer: the command annotation, and only it.
        (
            {
                "apiVersion": "graygate.dev/v1alpha1",
                "kind": "CanaryRelease",
                "metadata": {"name": "checkout", "annotations": {"graygate.dev/command": "promote/1", "team": "shop"}},
            },
            {
                "apiVersion": "graygate.dev/v1alpha1",
                "kind": "CanaryRelease",
                "metadata": {
                    "name": "checkout",
                    "annotations": {"graygate.dev/command": "abort/2", "team": "payments"},
                },
            },
            RULES,
            ["/metadata/annotations/team"],
        ),
    ],
    ids=[
        "equal",
        "scalar-differs",
        "ignored-pointer",
        "live-only-fields",
        "missing-live-field",
        "string-is-not-int",
        "bool-is-not-int",
        "map-vs-list",
        "rule-for-another-name",
        "rule-for-another-group",
        "list-by-index",
        "ignored-every-element",
        "list-length",
        "only-the-weights",
        "escaped-pointer",
    ],
)
def test_fields_changed(
    applied: dict[str, Any], live: dict[str, Any], rules: list[IgnoreRule], expected: list[str]
) -> None:
    assert fields_changed(applied, live, rules) == expected


@pytest.mark.parametrize(
    "expression",
    ['.spec.http[] | select(.name == "primary") | .weight', "spec.replicas", ".spec.http[-1]", ""],
)
def test_a_jq_expression_beyond_the_model_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match=r"modelled|empty"):
        load_rules([{"kind": "VirtualService", "jqPathExpressions": [expression]}])


# ---- the docs ----


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def _section(text: str) -> str:
    start = text.index("## 5. One commit per version: following a workload")
    return text[start : text.index("\n## ", start + 1)]


def _git_layout() -> dict[str, dict[str, Any]]:
    block = next(b for b in _yaml_blocks(_section(GITOPS.read_text())) if b.startswith("# Git: deploy/checkout.yaml"))
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in yaml.safe_load_all(block)}


def test_the_docs_show_the_ignore_rules_file_verbatim() -> None:
    assert RULES_FILE.read_text() in _yaml_blocks(_section(GITOPS.read_text()))


def test_the_docs_application_carries_exactly_the_rules_file() -> None:
    blocks = [yaml.safe_load(b) for b in _yaml_blocks(_section(GITOPS.read_text())) if "kind: Application" in b]
    assert len(blocks) == 1
    application = blocks[0]
    assert application["spec"]["ignoreDifferences"] == yaml.safe_load(RULES_FILE.read_text())
    assert "RespectIgnoreDifferences=true" in application["spec"]["syncPolicy"]["syncOptions"]


def test_the_git_layout_is_what_the_docs_say() -> None:
    layout = _git_layout()
    assert sorted(layout) == [
        "CanaryRelease/checkout",
        "Deployment/checkout",
        "Service/checkout-canary",
        "Service/checkout-primary",
        "VirtualService/checkout",
    ]
    release = CanaryReleaseSpec.model_validate(layout["CanaryRelease/checkout"]["spec"])
    assert release.workload is not None
    assert release.stable_deployment() == "checkout-primary"
    assert layout["Deployment/checkout"]["spec"]["selector"]["matchLabels"] == {"app": "checkout"}
    assert layout["Service/checkout-primary"]["spec"]["selector"] == {"app": "checkout-primary"}
    assert layout["Service/checkout-canary"]["spec"]["selector"] == {"app": "checkout"}
    weights = [d["weight"] for d in layout["VirtualService/checkout"]["spec"]["http"][0]["route"]]
    assert weights == [100, 0]


def _graygate_wrote(layout: dict[str, dict[str, Any]], canary_weight: int, replicas: int) -> dict[str, dict[str, Any]]:
    """The live objects after graygate's own writers ran on the Git layout, plus what the API server adds."""
    live = copy.deepcopy(layout)
    release = layout["CanaryRelease/checkout"]
    spec = CanaryReleaseSpec.model_validate(release["spec"])
    target = target_of("shop", spec)
    vs = live["VirtualService/checkout"]
    live["VirtualService/checkout"] = with_canary_weight(
        vs, target.virtual_services[0].routes, target.stable, target.canary, canary_weight
    )
    deployment = live["Deployment/checkout"]
    deployment["spec"]["replicas"] = replicas
    deployment["spec"]["strategy"] = {"type": "RollingUpdate"}
    deployment["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "3"}
    deployment["status"] = {"replicas": replicas}
    live_release = live["CanaryRelease/checkout"]
    live_release["metadata"]["annotations"]["graygate.dev/last-handled"] = "{}"
    live_release["metadata"]["finalizers"] = ["graygate.dev/finalizer"]
    live_release["status"] = {"phase": "Progressing", "canaryWeight": canary_weight}
    return live


@pytest.mark.parametrize(("canary_weight", "replicas"), [(0, 0), (10, 4), (50, 4), (100, 4), (0, 4)])
def test_under_the_rules_nothing_graygate_writes_is_a_difference(canary_weight: int, replicas: int) -> None:
    layout = _git_layout()
    live = _graygate_wrote(layout, canary_weight, replicas)
    assert {key: fields_changed(layout[key], live[key], RULES) for key in layout} == {key: [] for key in layout}


def test_without_the_rules_exactly_graygates_fields_differ() -> None:
    layout = _git_layout()
    live = _graygate_wrote(layout, 20, 0)
    changed = {key: fields_changed(layout[key], live[key], []) for key in layout}
    assert changed == {
        "Deployment/checkout": ["/spec/replicas"],
        "Service/checkout-primary": [],
        "Service/checkout-canary": [],
        "VirtualService/checkout": ["/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight"],
        "CanaryRelease/checkout": [],
    }


def test_the_primary_is_invisible_to_argo_cd_and_selected_by_the_stable_service_only() -> None:
    layout = _git_layout()
    followed = copy.deepcopy(layout["Deployment/checkout"])
    followed["metadata"]["labels"] = {"app.kubernetes.io/instance": "shop"}  # Argo CD's default tracking label
    followed["metadata"]["annotations"] = {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/checkout"}
    primary = primary_body(followed, "checkout-primary", "3f9a1c2e7b5d4a60", replicas=4)
    marks = {**primary["metadata"]["labels"], **primary["metadata"]["annotations"]}
    assert not [key for key in marks if key.startswith("argocd.argoproj.io/") or key == "app.kubernetes.io/instance"]
    pods = primary["spec"]["template"]["metadata"]["labels"]
    stable, canary = layout["Service/checkout-primary"], layout["Service/checkout-canary"]
    assert stable["spec"]["selector"].items() <= pods.items()
    assert not canary["spec"]["selector"].items() <= pods.items()
    assert canary["spec"]["selector"].items() <= followed["spec"]["template"]["metadata"]["labels"].items()
