"""Every CEL rule of the CanaryRelease CRD, proven on the real API server: a release that breaks the rule is refused
at create time with the rule's own message, and a table row exists for every rule the generated CRD carries, so a
rule added to `graygate.api` without a row here fails this file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.cluster_support import RELEASES

CRD = Path(__file__).resolve().parents[2] / "crds" / "canaryreleases.graygate.dev.yaml"
ETCD = {"endpoints": ["etcd:2379"]}
URL = "http://checkout-canary:8080/"

Spec = dict[str, Any]


def valid() -> Spec:
    return {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
        "canaryWorkload": {"name": "checkout-canary"},
        "stableWorkload": {"name": "checkout-stable"},
        "steps": [{"setWeight": 10}, {"setWeight": 50}],
        "analysis": {"interval": "10s", "gates": []},
    }


def gate(kind: str, body: dict[str, Any]) -> Callable[[Spec], None]:
    def add(spec: Spec) -> None:
        spec["analysis"]["gates"].append({"name": "g", kind: body})

    return add


def prometheus(**body: Any) -> Callable[[Spec], None]:
    return gate("prometheus", body)


def hot_reload(**changes: Any) -> Callable[[Spec], None]:
    return gate("hotReload", {"etcd": ETCD, "key": "/k", "url": URL, "jsonPath": "$.v", **changes})


def etcd_config(**changes: Any) -> Callable[[Spec], None]:
    return gate("etcdConfig", {"etcd": ETCD, "prefix": "/app/", "url": URL, "jsonPath": "$.v", **changes})


def hook(stage: str, name: str = "h", **webhook: Any) -> Callable[[Spec], None]:
    def add(spec: Spec) -> None:
        spec.setdefault("hooks", []).append({"name": name, "stage": stage, "webhook": {"url": URL, **webhook}})

    return add


def config(**etcd: Any) -> Callable[[Spec], None]:
    def add(spec: Spec) -> None:
        spec["config"] = {"etcd": {**ETCD, **etcd}, "keys": [{"key": "/app/a", "value": "1"}]}

    return add


def setting(*path: str, value: Any) -> Callable[[Spec], None]:
    def put(spec: Spec) -> None:
        where = spec
        for key in path[:-1]:
            where = where.setdefault(key, {})
        if value is None:
            where.pop(path[-1], None)
        else:
            where[path[-1]] = value

    return put


def steps(*given: dict[str, Any]) -> Callable[[Spec], None]:
    return setting("steps", value=list(given))


def header_step(**match: str) -> Callable[[Spec], None]:
    return steps({"setHeaderRoute": {"match": [{"headers": {"x-canary": match}}]}})


def both(*changes: Callable[[Spec], None]) -> Callable[[Spec], None]:
    def apply(spec: Spec) -> None:
        for change in changes:
            change(spec)

    return apply


GATEWAY_API = {"gatewayAPI": {"httpRoutes": [{"name": "checkout", "rules": ["web"]}]}}


def gateway_api(spec: Spec) -> None:
    """The valid release, split by an HTTPRoute instead: backendRef Services, no subsets."""
    spec["trafficRouting"] = GATEWAY_API
    spec["stable"], spec["canary"] = {"host": "checkout", "port": 8080}, {"host": "checkout-v2", "port": 8080}


def two_kinds(spec: Spec) -> None:
    spec["analysis"]["gates"].append({"name": "g", "httpProbe": {"url": URL}, "routingCheck": {"url": URL}})


ZERO = "0s"
TLS_CERT_ONLY = {"secretRef": {"name": "etcd-client"}, "certKey": "tls.crt"}
RATE = {"requestSuccessRate": {"min": 99}}

CASES: list[tuple[str, Callable[[Spec], None], str]] = [
    # spec
    (
        "spec",
        both(setting("canaryWorkload", value=None), prometheus(**RATE)),
        "the built-in Prometheus metrics need canaryWorkload and stableWorkload",
    ),
    ("spec", setting("stepWeights", value=[10, 50]), "exactly one of steps or stepWeights must be given"),
    (
        "spec",
        setting("stepInterval", value="10s"),
        "stepInterval goes with stepWeights; with steps, use pause",
    ),
    ("spec", setting("canary", value={"host": "checkout", "subset": "stable"}), "stable and canary must be different"),
    (
        "spec",
        setting("progressDeadline", value="5s"),
        "progressDeadline must be longer than analysis.interval: a step needs at least one analysis to progress",
    ),
    (
        "spec",
        both(setting("workload", value={"name": "checkout"}), setting("canaryWorkload", value={"name": "x"})),
        "workload names both sides",
    ),
    (
        "spec",
        setting("workload", value={"name": "checkout", "primary": "checkout"}),
        "workload.primary must differ from workload.name",
    ),
    (
        "spec",
        both(gateway_api, setting("canary", value={"host": "checkout-v2", "subset": "canary"})),
        "subset is an Istio DestinationRule subset",
    ),
    (
        "spec",
        both(gateway_api, header_step(prefix="y")),
        "Gateway API matches headers Exact or by RegularExpression only",
    ),
    (
        "spec",
        both(
            gateway_api,
            setting("trafficRouting", "gatewayAPI", "httpRoutes", value=[{"name": "c", "rules": list("abcdefghi")}]),
            header_step(exact="y"),
        ),
        "an HTTPRoute holds at most 16 rules (Gateway API): list at most 8 in each httpRoutes[].rules",
    ),
    (
        "spec.trafficRouting",
        setting("trafficRouting", "gatewayAPI", value=GATEWAY_API["gatewayAPI"]),
        "trafficRouting needs exactly one of istio or gatewayAPI",
    ),
    ("spec.trafficRouting", setting("trafficRouting", value={}), "trafficRouting needs exactly one of istio or"),
    ("spec.steps", steps({"setWeight": 50}, {"setWeight": 10}), "weights must not decrease"),
    ("spec.steps[]", steps({"setWeight": 10, "pause": {}}), "a step needs exactly one of setWeight, pause or"),
    (
        "spec.steps[].setHeaderRoute.match[].headers{}",
        header_step(exact="yes", prefix="y"),
        "a header match needs exactly one of exact, prefix or regex",
    ),
    (
        "spec.stepWeights",
        both(setting("steps", value=None), setting("stepWeights", value=[50, 10])),
        "weights must not decrease",
    ),
    (
        "spec.stepInterval",
        both(setting("steps", value=None), setting("stepWeights", value=[10]), setting("stepInterval", value="500ms")),
        "must be at least 1s",
    ),
    # analysis: waits shorter than the interval
    (
        "spec.analysis.gateRefs[]",
        setting("analysis", "gateRefs", value=[{"name": "rate", "namespace": "platform"}]),
        "a GateTemplate is read from the release's own namespace",
    ),
    ("spec.analysis", gate("httpProbe", {"url": URL, "timeout": "20s"}), "every httpProbe timeout must be shorter"),
    (
        "spec.analysis",
        gate("metricParity", {"canaryUrl": URL, "timeout": "20s"}),
        "every metricParity timeout must be shorter",
    ),
    (
        "spec.analysis",
        gate("apiCompat", {"stableUrl": URL, "canaryUrl": URL, "timeout": "20s"}),
        "every apiCompat timeout must be shorter",
    ),
    ("spec.analysis", hot_reload(deadline="20s"), "every hotReload deadline must be shorter"),
    ("spec.analysis", etcd_config(timeout="20s"), "every etcdConfig timeout must be shorter"),
    (
        "spec.analysis",
        gate("routingCheck", {"url": URL, "timeout": "20s"}),
        "every routingCheck timeout must be shorter",
    ),
    ("spec.analysis", gate("webhook", {"url": URL, "timeout": "20s"}), "every webhook timeout must be shorter"),
    (
        "spec.analysis",
        prometheus(source={"timeout": "20s"}, **RATE),
        "every prometheus source timeout must be shorter than the analysis interval",
    ),
    ("spec.analysis.interval", setting("analysis", "interval", value="500ms"), "must be at least 1s"),
    # gates
    ("spec.analysis.gates[]", two_kinds, "exactly one gate kind must be set"),
    ("spec.analysis.gates[].httpProbe.timeout", gate("httpProbe", {"url": URL, "timeout": ZERO}), "at least 1ms"),
    (
        "spec.analysis.gates[].prometheus",
        prometheus(requestSuccessRate={"min": 99}, requestDuration={"max": "1s"}),
        "give exactly one of requestSuccessRate, requestDuration or query",
    ),
    (
        "spec.analysis.gates[].prometheus.source",
        prometheus(
            source={"bearerToken": {"secretRef": {"name": "t"}}, "basicAuth": {"secretRef": {"name": "b"}}}, **RATE
        ),
        "give at most one of bearerToken or basicAuth",
    ),
    (
        "spec.analysis.gates[].prometheus.source.ca",
        prometheus(source={"ca": {"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}}, **RATE),
        "give exactly one of secretRef or configMapRef",
    ),
    ("spec.analysis.gates[].prometheus.source.timeout", prometheus(source={"timeout": ZERO}, **RATE), "at least 1ms"),
    ("spec.analysis.gates[].prometheus.window", prometheus(window="500ms", **RATE), "must be at least 1s"),
    (
        "spec.analysis.gates[].prometheus.requestSuccessRate",
        prometheus(requestSuccessRate={"confidence": 0.9}),
        "give min, maxIncreasePoints or both",
    ),
    (
        "spec.analysis.gates[].prometheus.requestDuration",
        prometheus(requestDuration={"quantile": 0.9}),
        "give max, maxRatio or both",
    ),
    (
        "spec.analysis.gates[]",
        prometheus(query={"expr": "sum(x)"}),
        "give min, max, maxRatio or a combination, or a successCondition or failureCondition",
    ),
    (
        "spec",
        lambda spec: spec["analysis"]["gates"].append({"name": "g", "httpProbe": {"url": URL}, "initialDelay": "1h"}),
        "a gate's initialDelay must be shorter than progressDeadline",
    ),
    (
        "spec.analysis.gates[].prometheus.query",
        prometheus(query={"expr": "sum(x)", "maxRatio": 2}),
        "maxRatio compares with stableExpr, which is missing",
    ),
    (
        "spec.analysis.gates[].metricParity.timeout",
        gate("metricParity", {"canaryUrl": URL, "timeout": ZERO}),
        "at least 1ms",
    ),
    (
        "spec.analysis.gates[].apiCompat.timeout",
        gate("apiCompat", {"stableUrl": URL, "canaryUrl": URL, "timeout": ZERO}),
        "at least 1ms",
    ),
    ("spec.analysis.gates[].hotReload.etcd.dialTimeout", hot_reload(etcd={**ETCD, "dialTimeout": ZERO}), "1ms"),
    (
        "spec.analysis.gates[].hotReload.etcd.tls",
        hot_reload(etcd={**ETCD, "tls": TLS_CERT_ONLY}),
        "give both certKey and keyKey for a client certificate",
    ),
    ("spec.analysis.gates[].hotReload.ttl", hot_reload(ttl="500ms"), "must be at least 1s"),
    ("spec.analysis.gates[].hotReload.deadline", hot_reload(deadline="50ms"), "must be at least 100ms"),
    ("spec.analysis.gates[].hotReload.pollInterval", hot_reload(pollInterval="10ms"), "must be at least 50ms"),
    ("spec.analysis.gates[].etcdConfig.etcd.dialTimeout", etcd_config(etcd={**ETCD, "dialTimeout": ZERO}), "1ms"),
    (
        "spec.analysis.gates[].etcdConfig.etcd.tls",
        etcd_config(etcd={**ETCD, "tls": TLS_CERT_ONLY}),
        "give both certKey and keyKey for a client certificate",
    ),
    ("spec.analysis.gates[].etcdConfig.timeout", etcd_config(timeout=ZERO), "at least 1ms"),
    ("spec.analysis.gates[].routingCheck.timeout", gate("routingCheck", {"url": URL, "timeout": ZERO}), "1ms"),
    ("spec.analysis.gates[].webhook.timeout", gate("webhook", {"url": URL, "timeout": ZERO}), "at least 1ms"),
    (
        "spec.analysis.gates[].webhook.headers[]",
        gate("webhook", {"url": URL, "headers": [{"name": "X-Token"}]}),
        "give exactly one of value or valueFrom",
    ),
    (
        "spec.analysis.gates[].webhook.headers[]",
        gate("webhook", {"url": URL, "headers": [{"name": "Content-Type", "value": "text/plain"}]}),
        "a webhook may not set these headers",
    ),
    # stage hooks: the webhook's own rules, and the spec's
    ("spec.hooks[].webhook.timeout", hook("rollback", timeout=ZERO), "at least 1ms"),
    (
        "spec.hooks[].webhook.headers[]",
        hook("rollback", headers=[{"name": "X-Token"}]),
        "give exactly one of value or valueFrom",
    ),
    (
        "spec.hooks[].webhook.headers[]",
        hook("rollback", headers=[{"name": "Host", "value": "x"}]),
        "a webhook may not set these headers",
    ),
    ("spec", hook("confirmPromotion", timeout="20s"), "every hook's webhook timeout must be shorter"),
    ("spec", both(gate("httpProbe", {"url": URL}), hook("rollback", name="g")), "hooks must have names unique"),
    # config
    ("spec.config.etcd.dialTimeout", config(dialTimeout=ZERO), "at least 1ms"),
    ("spec.config.etcd.tls", config(tls=TLS_CERT_ONLY), "give both certKey and keyKey for a client certificate"),
    (
        "spec.config.keys[]",
        both(config(), setting("config", "keys", value=[{"key": "/app/a", "value": "1", "delete": True}])),
        "give either value or delete: true",
    ),
]

STATUS_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("status.config.etcd.dialTimeout", {**ETCD, "dialTimeout": ZERO}, "at least 1ms"),
    ("status.config.etcd.tls", {**ETCD, "tls": TLS_CERT_ONLY}, "give both certKey and keyKey for a client certificate"),
]


def release(name: str, spec: Spec) -> dict[str, Any]:
    return {"apiVersion": "graygate.dev/v1alpha1", "kind": "CanaryRelease", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 422, refused.value.body
    return str(refused.value.body)


def test_the_valid_release_the_rows_break_is_accepted(custom: client.CustomObjectsApi, namespace: str) -> None:
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=release("valid", valid()))


def test_a_gateway_api_release_with_exact_and_regex_header_routes_is_accepted(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    spec = valid()
    both(gateway_api, header_step(regex="v2.*"))(spec)
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=release("gateway", spec))


def refused_spec(custom: client.CustomObjectsApi, namespace: str, change: Callable[[Spec], None]) -> str:
    """The API server's refusal of the valid release with `change` made to its spec."""
    spec = valid()
    change(spec)
    body = release("broken", spec)
    return refusal(lambda: custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=body))


@pytest.mark.parametrize(("path", "change", "message"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_a_release_breaking_a_cel_rule_is_refused_with_its_message(
    custom: client.CustomObjectsApi, namespace: str, path: str, change: Callable[[Spec], None], message: str
) -> None:
    found = refused_spec(custom, namespace, change)
    assert message in found, found
    assert path.split("[")[0].split("{")[0] in found, found


@pytest.mark.parametrize(("path", "etcd", "message"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_a_status_breaking_a_cel_rule_is_refused_with_its_message(
    custom: client.CustomObjectsApi, namespace: str, path: str, etcd: dict[str, Any], message: str
) -> None:
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=release("written", valid()))
    patch = {"status": {"config": {"state": "Applying", "etcd": etcd}}}
    found = refusal(
        lambda: custom.patch_namespaced_custom_object_status(
            **RELEASES, namespace=namespace, name="written", body=patch
        )
    )
    assert message in found, found


def _rules(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule["message"]
    for key, child in schema.get("properties", {}).items():
        yield from _rules(child, f"{path}.{key}" if path else key)
    if isinstance(items := schema.get("items"), dict):
        yield from _rules(items, f"{path}[]")
    if isinstance(values := schema.get("additionalProperties"), dict):
        yield from _rules(values, path + "{}")


def test_every_cel_rule_of_the_crd_has_a_row() -> None:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = crd["spec"]["versions"]
    rules = list(_rules(version["schema"]["openAPIV3Schema"], ""))
    rows = [(path, message) for path, _, message in CASES] + [(path, message) for path, _, message in STATUS_CASES]
    missing = [
        (path, message)
        for path, message in rules
        if not any(row_path == path and row_message in message for row_path, row_message in rows)
    ]
    assert not missing, f"CEL rules without a row: {missing}"
    unused = [row for row in rows if not any(row[0] == path and row[1] in message for path, message in rules)]
    assert not unused, f"rows for rules the CRD does not have: {unused}"


SCHEMA_CASES: list[tuple[str, Callable[[Spec], None], str]] = [
    ("spec.hooks[0].stage", hook("sometime"), "Unsupported value"),
    ("spec.analysis.errorPolicy", setting("analysis", "errorPolicy", value="retry"), "Unsupported value"),
    (
        "spec.analysis.consecutiveErrorLimit",
        setting("analysis", "consecutiveErrorLimit", value=0),
        "should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(("path", "change", "message"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_what_errors_lead_to_is_checked_by_the_schema(
    custom: client.CustomObjectsApi, namespace: str, path: str, change: Callable[[Spec], None], message: str
) -> None:
    found = refused_spec(custom, namespace, change)
    assert message in found, found
    assert path in found, found


def test_the_status_keeps_evidence_and_step_failures_within_their_bounds(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body=release("written", valid()))
    result = {"gate": "g", "kind": "prometheus", "verdict": "Fail", "at": "2026-01-01T00:00:00Z"}
    steps = [{"step": 0, "failures": 2}, {"step": 2, "failures": 1}]
    written = {
        "recentResults": [{**result, "evidence": {"canaryErrors": "41", "alpha": "0.05"}}],
        "gates": [{"name": "g", "stepFailures": steps}],
        "consecutiveErrors": 3,
    }

    def patch(status: dict[str, Any]) -> Any:
        return custom.patch_namespaced_custom_object_status(
            **RELEASES, namespace=namespace, name="written", body={"status": status}
        )

    kept = patch(written)["status"]
    assert kept["recentResults"][0]["evidence"] == {"canaryErrors": "41", "alpha": "0.05"}
    assert kept["gates"][0]["stepFailures"] == steps
    assert kept["consecutiveErrors"] == 3
    crowded = {"recentResults": [{**result, "evidence": {f"n{i}": "1" for i in range(17)}}]}
    assert "at most 16" in refusal(lambda: patch(crowded))
    long = {"gates": [{"name": "g", "stepFailures": [{"step": i, "failures": 1} for i in range(21)]}]}
    assert "at most 20" in refusal(lambda: patch(long))
