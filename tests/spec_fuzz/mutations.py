"""Valid releases broken one way at a time: a dropped field, a wrong type, a number out of range, weights that do not
add up, a bad duration, an unknown gate kind, a list or map past its bound, a string past its length, an odd name, a
name given twice."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from typing import Any

Json = Any
Path = tuple[str | int, ...]


BAD_DURATIONS = (
    "10", "1d", "-1s", "1.5.5s", "99999999999999999999h", "2562048h", "0s", "", "1e3s", "1 s", "\u0661s", "1\u00b5s",
    "PT1S", "0.0000001ms", "1h" * 16, "1h" * 17,
)  # fmt: skip
ODD_NAMES = (
    "Checkout", "check_out", "a" * 254, "a" * 64, "\u00fcnicode", "rtl\u202eevil", "zero\u200bwidth",
    "rocket-\U0001f680", "nul\u0000byte", "-lead", "trail-", "", " ", "dots..dots", "\ud800lone", "x.y", "caf\u00e9",
)  # fmt: skip
OUT_OF_RANGE = (-1, 0, 101, 1001, 65536, 2**31, 2**53 + 1, -(2**63), 10**30, 0.5, 1e300, -0.0)
OTHER_TYPES: tuple[Json, ...] = ("x", 7, -1.5, True, None, [], {}, [1, 2], {"a": 1})


def paths(node: Json, at: Path = ()) -> Iterator[tuple[Path, Json]]:
    """Every (path, value) below `node`, `node` itself excluded."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*at, key), value
            yield from paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*at, index), value
            yield from paths(value, (*at, index))


def schema_at(schema: dict[str, Any], path: Path) -> dict[str, Any]:
    """The schema node for `path` ({} where the schema says nothing)."""
    node = schema
    for part in path:
        if isinstance(part, int):
            node = node.get("items") or {}
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def _parent(spec: dict[str, Any], path: Path) -> Any:
    node: Any = spec
    for part in path[:-1]:
        node = node[part]
    return node


def _set(spec: dict[str, Any], path: Path, value: Json) -> None:
    _parent(spec, path)[path[-1]] = value


def shown(path: Path) -> str:
    text = "spec"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


Mutation = Callable[[dict[str, Any], dict[str, Any], random.Random], str | None]


def drop(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    path, _ = rng.choice(list(paths(spec)))
    parent = _parent(spec, path)
    del parent[path[-1]]
    return f"drop {shown(path)}"


def wrong_type(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    path, value = rng.choice(list(paths(spec)))
    other = rng.choice([candidate for candidate in OTHER_TYPES if type(candidate) is not type(value)])
    _set(spec, path, copy.deepcopy(other))
    return f"{shown(path)} = {other!r} (was a {type(value).__name__})"


def out_of_range(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    numbers = [path for path, value in paths(spec) if isinstance(value, int | float) and not isinstance(value, bool)]
    if not numbers:
        return None
    path, value = rng.choice(numbers), rng.choice(OUT_OF_RANGE)
    _set(spec, path, value)
    return f"{shown(path)} = {value!r}"


def weights(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    shapes: list[Json] = [[60, 40], [0], [100, 100], [], [101], [10, 50, 49], [150], [-5, 10], list(range(0, 101, 1))]
    chosen = copy.deepcopy(rng.choice(shapes))
    if "stepWeights" in spec or rng.random() < 0.3:
        spec["stepWeights"] = chosen
        return f"spec.stepWeights = {chosen!r}"
    spec["steps"] = [{"setWeight": weight} for weight in chosen]
    return f"spec.steps = setWeight {chosen!r}"


def bad_duration(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    durations = [path for path, _ in paths(spec) if schema_at(schema, path).get("pattern", "").startswith("^([0-9]+")]
    places: list[Path] = durations or [("analysis", "interval")]
    path, value = rng.choice(places), rng.choice(BAD_DURATIONS)
    if len(path) == 2 and path[0] == "analysis" and not isinstance(spec.get("analysis"), dict):
        spec["analysis"] = {}
    _set(spec, path, value)
    return f"{shown(path)} = {value!r}"


def unknown_gate_kind(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    analysis = spec.setdefault("analysis", {"interval": "1s"})
    kind = rng.choice(["canaryScore", "httpprobe", "HttpProbe", "grpcProbe", "prometheus2"])
    analysis.setdefault("gates", []).append({"name": "unknown", kind: {"url": "http://127.0.0.1:9/"}})
    return f"a gate of kind {kind}"


def huge_list(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    lists = [(path, value) for path, value in paths(spec) if isinstance(value, list) and value]
    if not lists:
        return None
    path, value = rng.choice(lists)
    bound = schema_at(schema, path).get("maxItems", 64)
    size = rng.choice([bound + 1, bound * 2, 500])
    _set(spec, path, [copy.deepcopy(value[i % len(value)]) for i in range(size)])
    return f"{shown(path)} has {size} items (at most {bound})"


def huge_map(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    maps = [
        path
        for path, value in paths(spec)
        if isinstance(value, dict) and isinstance(schema_at(schema, path).get("additionalProperties"), dict)
    ]
    if not maps:
        return None
    path = rng.choice(maps)
    bound = schema_at(schema, path).get("maxProperties", 32)
    item = schema_at(schema, path)["additionalProperties"]
    value: Json = {"exact": "v"} if item.get("type") == "object" else "v"
    _set(spec, path, {f"k{i}": copy.deepcopy(value) for i in range(bound + 1)})
    return f"{shown(path)} has {bound + 1} keys (at most {bound})"


def long_string(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    strings = [path for path, value in paths(spec) if isinstance(value, str)]
    if not strings:
        return None
    path = rng.choice(strings)
    bound = schema_at(schema, path).get("maxLength", 4096)
    size = rng.choice([bound + 1, bound * 4])
    _set(spec, path, "a" * size)
    return f"{shown(path)} is {size} characters (at most {bound})"


def odd_name(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    names = [path for path, value in paths(spec) if path[-1] in ("name", "host", "subset") and isinstance(value, str)]
    names += [path for path, value in paths(spec) if isinstance(value, list) and path[-1] in ("routes", "rules")]
    if not names:
        return None
    path, value = rng.choice(names), rng.choice(ODD_NAMES)
    if path[-1] in ("routes", "rules"):
        _set(spec, path, [value])
        return f"{shown(path)} = [{value!r}]"
    _set(spec, path, value)
    return f"{shown(path)} = {value!r}"


def duplicate(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    named = [
        (path, value)
        for path, value in paths(spec)
        if isinstance(value, list) and value and all(isinstance(item, dict) and "name" in item for item in value)
    ]
    if not named:
        return None
    path, value = rng.choice(named)
    value.append(copy.deepcopy(value[0]))
    return f"{shown(path)} names {value[0]['name']!r} twice"


def same_sides(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    spec["canary"] = copy.deepcopy(spec.get("stable"))
    return "spec.canary = spec.stable"


BAD_CONDITIONS = ("result >", "nope == 1", "result.code == 'x' &&", "size(", "1 + 'a'", "result.unknownField > 1",
                  "'not a bool'", "result.value")  # fmt: skip
BAD_QUERIES = ('sum(x{ns="{{ nope }}"})', 'up{pod="{{ canarySubset }}{{"}', "{{ }}", "rate(x[{{ interval }}])")


def bad_expression(spec: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> str | None:
    """What only the operator can judge: a gate condition that is not valid CEL for the gate's result, or a PromQL
    template with a variable graygate does not know."""
    gates = spec.get("analysis", {}).get("gates") or []
    if not gates:
        spec.setdefault("analysis", {"interval": "1s"})["gates"] = gates
        gates.append({"name": "cond", "httpProbe": {"url": "http://127.0.0.1:9/"}})
    index = rng.randrange(len(gates))
    if "prometheus" in gates[index] and rng.random() < 0.5:
        query = rng.choice(BAD_QUERIES)
        gates[index]["prometheus"] = {"query": {"expr": query, "max": 1}}
        return f"spec.analysis.gates[{index}].prometheus.query.expr = {query!r}"
    place, condition = rng.choice(["successCondition", "failureCondition"]), rng.choice(BAD_CONDITIONS)
    gates[index][place] = condition
    return f"spec.analysis.gates[{index}].{place} = {condition!r}"


MUTATIONS: tuple[Mutation, ...] = (
    bad_expression, bad_expression,
    drop, drop, wrong_type, wrong_type, out_of_range, out_of_range, weights, bad_duration, bad_duration,
    unknown_gate_kind, huge_list, huge_map, long_string, odd_name, odd_name, duplicate, same_sides,
)  # fmt: skip


def odd_release_name(index: int, rng: random.Random) -> str:
    """An odd metadata.name, unique to case `index` wherever the name is a valid one (two cases never collide)."""
    return rng.choice(
        [
            f"Checkout-{index}", f"check_out-{index}", "a" * 254, f"\u00fcnicode-{index}", f"rtl\u202eevil-{index}",
            f"zero\u200bwidth-{index}", f"rocket-\U0001f680-{index}", f"nul\u0000byte-{index}", f"-lead-{index}",
            f"trail-{index}-", "", " ", f"dots..{index}", f"\ud800lone{index}", f"caf\u00e9{index}",
            "a" * 247 + f"{index:06d}", f"x.y.{index}",
        ]
    )  # fmt: skip


def mutated(
    bases: list[tuple[str, dict[str, Any]]], schema: dict[str, Any], rng: random.Random, index: int
) -> tuple[str, dict[str, Any], str | None]:
    """A valid release with one change (a quarter of the time two, a few times none): (what, spec, odd
    metadata.name or None)."""
    label, base = rng.choice(bases)
    spec = copy.deepcopy(base)
    if rng.random() < 0.04:
        return f"{label}: unchanged", spec, None
    if rng.random() < 0.04:
        name = odd_release_name(index, rng)
        return f"{label}: metadata.name = {name!r}", spec, name
    changes: list[str] = []
    for _ in range(2 if rng.random() < 0.25 else 1):
        for _attempt in range(10):
            change = rng.choice(MUTATIONS)(spec, schema, rng)
            if change is not None:
                changes.append(change)
                break
    return f"{label}: {'; '.join(changes)}", spec, None
