"""The chart's shards: `shards: [default, b, c]` installs one one-replica Deployment per shard, each running
`graygate run --shard=<name>` (args the operator's own parser accepts), with pods and selectors no two shards share,
the same ServiceAccount and RBAC as one operator, and a refusal to combine shards with ha."""

from __future__ import annotations

from pathlib import Path

import pytest
from helm_tools import CHART, RELEASE_NAMESPACE, Helm, Manifest, find, one

from graygate import cli
from graygate.domain.release.shards import SHARD_LABEL

SHARDS_VALUES = Path(__file__).with_name("shards-values.yaml")


@pytest.fixture(scope="module")
def sharded(helm: Helm) -> list[Manifest]:
    return helm.template("--values", str(SHARDS_VALUES))


def test_lint_strict_passes_with_shards(helm: Helm) -> None:
    result = helm.run(
        "lint", "--strict", str(CHART), "--namespace", RELEASE_NAMESPACE, "--set", "image.repository=x",
        "--values", str(SHARDS_VALUES), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout


def test_one_deployment_per_shard_each_serving_its_shard(sharded: list[Manifest]) -> None:
    deployments = find(sharded, "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == ["graygate-default", "graygate-b", "graygate-c"]
    assert not find(sharded, "StatefulSet")
    selectors = []
    for deployment, shard in zip(deployments, ["default", "b", "c"], strict=True):
        spec = deployment["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}, "a shard's operator is replaced, never doubled"
        assert spec["selector"]["matchLabels"][SHARD_LABEL] == shard
        assert spec["template"]["metadata"]["labels"][SHARD_LABEL] == shard
        selectors.append(tuple(sorted(spec["selector"]["matchLabels"].items())))
        (container,) = spec["template"]["spec"]["containers"]
        args = cli._parser().parse_args(container["args"])
        assert args.shard == shard, "the operator's own parser reads the shard the chart renders"
        assert not any(arg.startswith("--peering") for arg in container["args"])
        assert spec["template"]["spec"]["serviceAccountName"] == "graygate"
    assert len(set(selectors)) == 3, "no Deployment selects another shard's pods"


def test_shards_need_no_more_rbac_than_one_operator(helm: Helm, sharded: list[Manifest]) -> None:
    single = helm.template()
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"):
        assert [m.get("rules", m.get("subjects")) for m in find(sharded, kind)] == [
            m.get("rules", m.get("subjects")) for m in find(single, kind)
        ], kind
    assert one(sharded, "Service")["spec"]["selector"] == one(single, "Service")["spec"]["selector"], (
        "one metrics Service over every shard's pod"
    )


def test_ha_gives_the_peering_lifetime_to_every_replica(helm: Helm) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "ha-values.yaml"), "--set", "ha.peeringLifetime=7")
    (container,) = one(manifests, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    # Kubernetes expands $(GRAYGATE_PRIORITY) from the pod's ordinal before the operator parses its args.
    args = [arg.replace("$(GRAYGATE_PRIORITY)", "1") for arg in container["args"]]
    assert cli._parser().parse_args(args).peering_lifetime == 7


def test_shards_and_ha_are_refused_together(helm: Helm) -> None:
    result = helm.run(
        "template", "g", str(CHART), "--set", "image.repository=x", "--values", str(SHARDS_VALUES),
        "--set", "ha.enabled=true", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "shards and ha.enabled cannot be combined" in result.stderr


@pytest.mark.parametrize("name", ["B", "a_b", "-a", "x" * 41])
def test_a_shard_name_the_operator_would_refuse_is_refused_by_the_schema(helm: Helm, name: str) -> None:
    result = helm.run(
        "template", "g", str(CHART), "--set", "image.repository=x", "--set", f"shards={{{name}}}", check=False
    )
    assert result.returncode != 0
    assert "shards" in result.stderr
