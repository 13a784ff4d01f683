"""The generated CRD: in sync with the models, structural, described, with its CEL rules, columns and names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from graygate.api.crd import CRD_PATH, REGENERATE, build_crd, main, render_crd

REPO = Path(__file__).resolve().parents[3]
CRD = build_crd()
VERSION = CRD["spec"]["versions"][0]
ROOT: dict[str, Any] = VERSION["schema"]["openAPIV3Schema"]
SPEC = ROOT["properties"]["spec"]
STATUS = ROOT["properties"]["status"]


def nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node with its path (`.spec.steps[]`)."""
    yield path or ".", schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def at(path: str) -> Mapping[str, Any]:
    return dict(nodes(ROOT))[path]


def test_committed_crd_matches_the_models() -> None:
    committed = (REPO / CRD_PATH).read_text(encoding="utf-8")
    assert committed == render_crd(), f"{CRD_PATH} is out of date: run `{REGENERATE}` from the repository root"


def test_the_yaml_is_the_dict() -> None:
    assert yaml.safe_load(render_crd()) == CRD


def test_names_scope_and_subresource() -> None:
    assert CRD["metadata"]["name"] == "canaryreleases.graygate.dev"
    names = CRD["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("CanaryRelease", "canaryreleases", ["crel"])
    assert CRD["spec"]["scope"] == "Namespaced"
    assert (VERSION["name"], VERSION["served"], VERSION["storage"]) == ("v1alpha1", True, True)
    assert VERSION["subresources"] == {"status": {}}


@pytest.mark.parametrize(
    ("name", "json_path", "kind"),
    [
        ("Phase", ".status.phase", "string"),
        ("Step", ".status.stepDisplay", "string"),
        ("Weight", ".status.canaryWeight", "integer"),
        ("Verdict", ".status.lastVerdict", "string"),
        ("Age", ".metadata.creationTimestamp", "date"),
    ],
)
def test_printer_columns(name: str, json_path: str, kind: str) -> None:
    columns = {column["name"]: column for column in VERSION["additionalPrinterColumns"]}
    assert (columns[name]["jsonPath"], columns[name]["type"]) == (json_path, kind)
    field = json_path.removeprefix(".status.")
    if json_path.startswith(".status."):
        assert field in STATUS["properties"], f"column {name} shows a status field that does not exist"


@pytest.mark.parametrize(("path", "node"), list(nodes(ROOT)), ids=lambda value: value if isinstance(value, str) else "")
def test_every_node_is_structural(path: str, node: Mapping[str, Any]) -> None:
    assert "type" in node, f"{path} has no type"
    forbidden = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "nullable", "const", "uniqueItems"} & set(node)
    assert not forbidden, f"{path} has {forbidden}"
    assert "default" not in node or node["default"] is not None, f"{path} has default: null"
    assert node.get("additionalProperties") is not False, f"{path} has additionalProperties: false"
    if "properties" in node:
        assert "additionalProperties" not in node, f"{path} mixes properties and additionalProperties"
    if node["type"] == "array":
        assert not {"minLength", "maxLength"} & set(node), f"{path}: string bounds on an array"


@pytest.mark.parametrize(("path", "node"), list(nodes(SPEC, ".spec")) + list(nodes(STATUS, ".status")))
def test_every_field_is_described(path: str, node: Mapping[str, Any]) -> None:
    if path.endswith(("[]", "{}")) and node["type"] != "object":
        return
    assert node.get("description"), f"{path} has no description"


def test_status_carries_no_defaults() -> None:
    assert not [path for path, node in nodes(STATUS, ".status") if "default" in node]


@pytest.mark.parametrize(
    ("path", "default"),
    [
        (".spec.analysis.interval", "30s"),
        (".spec.analysis.failureLimit", 2),
        (".spec.analysis.gates[].critical", False),
        (".spec.analysis.gates[].httpProbe.timeout", "2s"),
        (".spec.analysis.gates[].httpProbe.expectStatus", [200]),
        (".spec.canaryWorkload.kind", "Deployment"),
    ],
)
def test_spec_defaults_are_in_manifest_form(path: str, default: object) -> None:
    assert at(path)["default"] == default


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (".spec", "(has(self.steps) ? 1 : 0) + (has(self.stepWeights) ? 1 : 0) == 1"),
        (".spec", "!has(self.stepInterval) || has(self.stepWeights)"),
        (".spec", "self.stable.host != self.canary.host"),
        (".spec.steps", "self.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()"),
        (
            ".spec.steps[]",
            "(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.setHeaderRoute) ? 1 : 0) == 1",
        ),
        (".spec.stepWeights", "self.isSorted()"),
        (".spec.stepInterval", "duration(self) >= duration('1s')"),
        (".spec.analysis.interval", "duration(self) >= duration('1s')"),
        (".spec.analysis.gates[]", "has(self.httpProbe)"),
        (".spec.analysis", "duration(g.httpProbe.timeout) < duration(self.interval)"),
    ],
)
def test_cel_rules(path: str, rule: str) -> None:
    rules = at(path).get("x-kubernetes-validations", [])
    assert any(rule in entry["rule"] for entry in rules), f"{path} lacks {rule!r}"
    assert all(entry["message"] for entry in rules)


@pytest.mark.parametrize(
    ("path", "list_type", "keys"),
    [
        (".spec.trafficRouting.istio.virtualServices", "map", ["name"]),
        (".spec.trafficRouting.istio.virtualServices[].routes", "set", None),
        (".spec.analysis.gates", "map", ["name"]),
        (".spec.analysis.gates[].httpProbe.expectStatus", "set", None),
        (".status.conditions", "map", ["type"]),
        (".status.gates", "map", ["name"]),
    ],
)
def test_list_types(path: str, list_type: str, keys: list[str] | None) -> None:
    node = at(path)
    assert node["x-kubernetes-list-type"] == list_type
    assert node.get("x-kubernetes-list-map-keys") == keys
    if keys:
        assert set(keys) <= set(node["items"]["required"]), "map-list keys must be required"


@pytest.mark.parametrize(
    ("path", "bounds"),
    [
        (".spec.steps[].setWeight", {"minimum": 0, "maximum": 100}),
        (".spec.stepWeights[]", {"minimum": 0, "maximum": 100}),
        (".spec.steps", {"minItems": 1, "maxItems": 64}),
        (".spec.trafficRouting.istio.virtualServices", {"minItems": 1, "maxItems": 16}),
        (".spec.stable.port", {"minimum": 1, "maximum": 65535}),
        (".spec.analysis.gates[].httpProbe.expectStatus[]", {"minimum": 100, "maximum": 599}),
    ],
)
def test_bounds(path: str, bounds: dict[str, int]) -> None:
    assert {key: at(path)[key] for key in bounds} == bounds


@pytest.mark.parametrize(
    ("path", "values"),
    [
        (
            ".status.phase",
            ["Pending", "Progressing", "Paused", "Promoting", "Succeeded", "Failed", "Aborted", "Invalid"],
        ),
        (".status.lastVerdict", ["Pass", "Waiting", "Inconclusive", "Error", "Fail"]),
        (".spec.analysis.gates[].httpProbe.method", ["GET", "HEAD"]),
        (".spec.canaryWorkload.kind", ["Deployment"]),
        (".spec.workload.kind", ["Deployment"]),
        (".spec.onProgressDeadline", ["rollback", "pause"]),
    ],
)
def test_enums(path: str, values: list[str]) -> None:
    assert at(path)["enum"] == values


def test_optional_fields_are_not_required() -> None:
    assert SPEC["required"] == ["trafficRouting", "stable", "canary"]
    assert at(".spec.stable")["required"] == ["host"]
    assert "required" not in STATUS


@pytest.mark.parametrize(("stale", "code"), [(False, 0), (True, 1)])
def test_check_mode(tmp_path: Path, stale: bool, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "crd.yaml"
    assert main(["--output", str(target)]) == 0
    if stale:
        target.write_text(target.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert main(["--check", "--output", str(target)]) == code
    if stale:
        assert REGENERATE in capsys.readouterr().err
