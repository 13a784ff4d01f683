"""A gate template's arguments: the values a release gives, checked against their declared types, and put into the
template's gates.

Why apart from `gate_templates`: typing an argument and placing it are rules of their own (where a `secret` may go,
when a number stays a number), each a row in a table test; the expansion around them only orchestrates.

Placement: a string that is exactly one reference (`"{{ args.min }}"`) takes the argument's typed value (a number
stays a number where the gate wants one); a reference inside a longer text is replaced by the value's text. A
PromQL query (`prometheus.query.expr`, `stableExpr`) gets the value written for the place its reference stands
(`api.gates.promql_quote`: escaped in a string, matched literally after `=~`, one token outside quotes), so an
argument can never end a label matcher and add PromQL of its own; a value that cannot be written there is refused,
naming the field and the argument.

A `secret` argument (`{name, key}`) can only be the whole value of a field that takes a Secret key reference (a
`secretKeyRef`, a Prometheus `bearerToken` or `ca`): the gate then names the Secret and the operator reads it at
every analysis, so its value is never copied into the spec or the status.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from graygate.api.durations import parse_duration
from graygate.api.fields import DNS_SUBDOMAIN
from graygate.api.gate_templates import ARG_REFERENCE, TemplateArg
from graygate.api.gates import Gate
from graygate.api.gates.promql_quote import UnsafeValue, fill

__all__ = ["ArgValue", "SecretArg", "arg_text", "resolve_args", "substitute"]

_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_OBJECT_NAME = re.compile(DNS_SUBDOMAIN)
_SECRET_SLOTS = "a field that takes a Secret key reference (e.g. a webhook header's valueFrom.secretKeyRef, "
_SECRET_SLOTS += "prometheus.source.bearerToken or prometheus.source.ca)"
_PROMQL_FIELDS = {("prometheus", "query", "expr"), ("prometheus", "query", "stableExpr")}


@dataclass(frozen=True, slots=True)
class SecretArg:
    """A `secret` argument: the Secret (in the release's namespace) and the key in its data."""

    name: str
    key: str


ArgValue = str | int | float | SecretArg


def arg_text(value: ArgValue) -> str:
    """The value as text: in a longer string, and in `status.expandedGates` (a secret by its reference only)."""
    if isinstance(value, SecretArg):
        return f"secret {value.name}/{value.key}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _typed(arg: TemplateArg, value: Any) -> ArgValue | str:
    """The value checked against the argument's type; a str starting with `!` is the problem instead."""
    if arg.type == "secret":
        if not isinstance(value, Mapping) or set(value) != {"name", "key"}:
            return "!must be a Secret key reference {name, key}"
        name, key = value["name"], value["key"]
        if not isinstance(name, str) or not _OBJECT_NAME.fullmatch(name) or len(name) > 253:
            return f"!name {name!r} is not a Secret name"
        if not isinstance(key, str) or not _DATA_KEY.fullmatch(key) or len(key) > 253:
            return f"!key {key!r} is not a key of a Secret's data"
        return SecretArg(name=name, key=key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"!must be a {arg.type}, not {type(value).__name__}"
    if arg.type == "number":
        if isinstance(value, str):
            try:
                return float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                return f"!{value!r} is not a number"
        return value
    text = arg_text(value)
    if arg.type == "duration":
        try:
            parse_duration(text)
        except ValueError:
            return f"!{text!r} is not a duration: write a number and a unit (ms, s, m, h), e.g. 30s, 1m"
    return text


def resolve_args(
    declared: Sequence[TemplateArg], given: Mapping[str, Any], where: str, template: str
) -> tuple[dict[str, ArgValue], list[str]]:
    """Every declared argument's value (given, else its default), or the problems, each `<where>.args.<name>: …`."""
    problems: list[str] = []
    known = {arg.name for arg in declared}
    for name in sorted(set(given) - known):
        listed = ", ".join(sorted(known)) or "none"
        problems.append(f"{where}.args.{name}: unknown argument ({template} declares: {listed})")
    values: dict[str, ArgValue] = {}
    for arg in declared:
        if arg.name in given:
            value, source = given[arg.name], f"{where}.args.{arg.name}"
        elif arg.default is not None:
            value, source = arg.default, f"{where}: {template} argument {arg.name}: default"
        else:
            problems.append(f"{where}.args.{arg.name}: required argument missing ({arg.type})")
            continue
        typed = _typed(arg, value)
        if isinstance(typed, str) and typed.startswith("!"):
            problems.append(f"{source}: {typed[1:]}")
        else:
            values[arg.name] = typed
    return values, problems


def substitute(gate: Mapping[str, Any], values: Mapping[str, ArgValue]) -> tuple[dict[str, Any], list[str]]:
    """The template gate with its argument references replaced, or the problems (each `<field path>: …`)."""
    problems: list[str] = []
    result = _walk(dict(gate), (), values, problems)
    assert isinstance(result, dict)
    return result, problems


def _walk(value: Any, path: tuple[str | int, ...], values: Mapping[str, ArgValue], problems: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {key: _walk(item, (*path, key), values, problems) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, (*path, index), values, problems) for index, item in enumerate(value)]
    if not isinstance(value, str) or ARG_REFERENCE.search(value) is None:
        return value
    where = _dotted(path)
    if path in _PROMQL_FIELDS:
        return _promql(value, where, values, problems)
    whole = ARG_REFERENCE.fullmatch(value.strip())
    if whole is not None:
        arg = values[whole[1]]
        target = _annotation_at(path)
        if isinstance(arg, SecretArg):
            shape = _secret_shape(target, arg)
            if shape is None:
                problems.append(
                    f"{where}: the secret argument {whole[1]} can only be the whole value of {_SECRET_SLOTS}"
                )
            return shape
        return arg_text(arg) if target is str or isinstance(arg, str) else arg

    def text(match: re.Match[str]) -> str:
        arg = values[match[1]]
        if isinstance(arg, SecretArg):
            problems.append(
                f"{where}: the secret argument {match[1]} cannot be part of a text; it can only be the "
                f"whole value of {_SECRET_SLOTS}"
            )
            return ""
        return arg_text(arg)

    return ARG_REFERENCE.sub(text, value)


def _promql(query: str, where: str, values: Mapping[str, ArgValue], problems: list[str]) -> str:
    """The query with each argument written for the place its reference stands, or "" and a problem."""

    def text(match: re.Match[str]) -> str:
        arg = values[match[1]]
        if isinstance(arg, SecretArg):
            raise UnsafeValue(
                f"the secret argument {match[1]} cannot be part of a query; it can only be {_SECRET_SLOTS}"
            )
        return arg_text(arg)

    try:
        return fill(query, ARG_REFERENCE, text)
    except UnsafeValue as error:
        problems.append(f"{where}: {error}")
        return ""


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _secret_shape(target: Any, arg: SecretArg) -> dict[str, Any] | None:
    """The Secret key reference as the field's model spells it, or None where the field takes none."""
    if not (isinstance(target, type) and issubclass(target, BaseModel)):
        return None
    fields = set(target.model_fields)
    if fields == {"name", "key"}:
        return {"name": arg.name, "key": arg.key}
    if {"secret_ref", "key"} <= fields:
        return {"secretRef": {"name": arg.name}, "key": arg.key}
    return None


def _annotation_at(path: Sequence[str | int]) -> Any:
    """The type `Gate` declares at `path` (camelCase keys, list indexes), or None where the model says nothing."""
    current: Any = Gate
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            if get_origin(current) in (tuple, list) and get_args(current):
                current = get_args(current)[0]
                continue
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (info for name, info in current.model_fields.items() if part in (name, info.alias, to_camel(name))),
                None,
            )
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` → `X`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif (
            origin in (Union, types.UnionType)
            and len(rest := [a for a in get_args(annotation) if a is not type(None)]) == 1
        ):
            annotation = rest[0]
        else:
            return annotation
