"""The specs: drawn by Hypothesis from the CRD's schema, and valid releases broken one way at a time.

Two ways to draw from the schema: the spec's schema whole, as the CRD carries it (most draws stop at a spec-level CEL
rule, e.g. neither `steps` nor `stepWeights`), and one part of a valid release drawn from that part's schema (a gate
of one kind, the steps, the hooks, ...), so the draws reach the rules further down and the operator itself. The
mutations start from releases the operator runs and change one thing (sometimes two): a dropped field, a wrong type,
a number out of range, weights that do not add up, a bad duration, an unknown gate kind, a list or map past its
bound, an odd name.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any, TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from hypothesis_jsonschema import from_schema

from graygate.api.crd import build_crd
from tests.spec_fuzz.mutations import Path, mutated, shown
from tests.spec_fuzz.releases import valid_releases

T = TypeVar("T")

GATE_KINDS = (
    "httpProbe", "prometheus", "metricParity", "apiCompat", "hotReload", "etcdConfig", "routingCheck", "webhook",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One spec to apply: where it came from and, for a mutation, what was changed."""

    index: int
    origin: str
    what: str
    name: str
    spec: dict[str, Any]


def spec_schema() -> dict[str, Any]:
    """The CanaryRelease's `spec` schema, generated from the models exactly as `crds/` holds it."""
    (version,) = build_crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def grafts(schema: dict[str, Any]) -> SearchStrategy[tuple[Path, Any]]:
    """(path, value) pairs: a part of a spec (a gate of one kind, the steps, the hooks, ...) drawn from its own
    schema, to put in place of the same part of a valid release."""
    props = schema["properties"]
    gate = props["analysis"]["properties"]["gates"]["items"]

    def of_kind(kind: str) -> dict[str, Any]:
        narrowed = copy.deepcopy(gate)
        narrowed["properties"] = {
            key: value for key, value in gate["properties"].items() if key not in GATE_KINDS or key == kind
        }
        narrowed["required"] = ["name", kind]
        return narrowed

    targets: list[tuple[Path, dict[str, Any]]] = [(("analysis", "gates", 0), of_kind(kind)) for kind in GATE_KINDS]
    targets += [(("analysis", "interval"), props["analysis"]["properties"]["interval"])]
    parts = ("stable", "canary", "steps", "hooks", "config", "trafficRouting", "progressDeadline", "workload")
    targets += [((part,), props[part]) for part in (*parts, "notifications")]
    return st.one_of([from_schema(part).map(lambda value, at=at: (at, value)) for at, part in targets])


def grafted(base: dict[str, Any], at: Path, value: Any) -> dict[str, Any]:
    """`base` with `value` at `at` (parents made where missing; a gate goes first in the gates)."""
    spec = copy.deepcopy(base)
    node: Any = spec
    for part in at[:-1]:
        node = node.setdefault(part, [] if part == "gates" else {})
    if isinstance(node, list):
        node.insert(0, value)
    else:
        node[at[-1]] = value
    return spec


def drawn(strategy: SearchStrategy[T], count: int, seed: int) -> list[T]:
    """`count` values drawn by Hypothesis (fewer if it draws the same one twice), the same ones for a seed."""
    found: list[T] = []

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found[:count]


def generate_cases(count: int, seed: int, probe_url: str) -> list[Case]:
    """`count` specs: a quarter drawn whole from the CRD's schema, a quarter valid releases with one part drawn from
    its schema, half mutations; the same list for the same seed."""
    schema = spec_schema()
    quarter = count // 4
    drawn_plain = drawn(from_schema(schema), quarter, seed)
    rng = random.Random(seed)
    bases = valid_releases(probe_url)
    cases = [Case(i, "schema", "drawn whole", f"gen-{i:05d}", spec) for i, spec in enumerate(drawn_plain)]
    for at, value in drawn(grafts(schema), quarter, seed + 1):
        label, base = rng.choice(bases)
        index = len(cases)
        spec = grafted(base, at, value)
        cases.append(Case(index, "schema part", f"{label}: {shown(at)} drawn", f"gen-{index:05d}", spec))
    while len(cases) < count:
        what, spec, name = mutated(bases, schema, rng, len(cases))
        cases.append(Case(len(cases), "mutation", what, name if name is not None else f"gen-{len(cases):05d}", spec))
    return cases
