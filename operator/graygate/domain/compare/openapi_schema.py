"""Walks two versions of one schema side by side (OpenAPI 3.0 and 3.1 schema objects) and reports what changed.

Why: the same change to a schema breaks callers in one direction and not the other, so every comparison here is
made for a `side`:

- request side (parameters, request bodies), where the canary must accept everything stable accepted: a type it
  no longer accepts, an enum value removed (a caller sending it is now refused), an enum added where there was
  none, or a property that is new and required or became required, breaks callers. Widening is compatible.
- response side (2xx bodies), where the canary must return only what stable promised: a property removed, a type
  added (`null` included, via `nullable` or a type list), an enum value added (a client's exhaustive switch meets
  an unknown value), or an enum dropped altogether, breaks clients. Narrowing is compatible.

`integer` counts as a `number`. `readOnly` properties are ignored on the request side and `writeOnly` ones on the
response side, as OpenAPI says they are not sent there. `$ref` (local `#/...` only) is followed, chains included;
`allOf` members are merged (properties, required, type, enum). `oneOf`, `anyOf`, `not` and `additionalProperties`
are not compared, and a schema without `type` is not type-checked: the check prefers silence to a guess. A cycle
(`Node.children: [Node]`) is walked once per path: the guard is the pair of definitions being compared, and a
depth limit backs it up for pathological documents. An unresolvable or external `$ref` is an empty schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from graygate.domain.compare import jsonpointer
from graygate.domain.compare.openapi_findings import ApiChange, ApiFinding

__all__ = ["MAX_DEPTH", "Document", "SchemaView", "Side", "Where", "diff_schema", "view"]

Side = Literal["request", "response"]
MAX_DEPTH = 32
_EMPTY: Mapping[str, object] = MappingProxyType({})


def as_mapping(value: object) -> Mapping[str, object]:
    """`value` when it is a JSON object, else an empty one: documents are read defensively, never trusted."""
    return value if isinstance(value, Mapping) else _EMPTY


def as_list(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


@dataclass(frozen=True, slots=True)
class Document:
    """An OpenAPI document (parsed JSON or YAML) that resolves its own `$ref`s."""

    root: Mapping[str, object]

    def resolve(self, node: object, location: str) -> tuple[Mapping[str, object], str]:
        """`node` with its `$ref` chain followed, and the pointer to where the result is defined."""
        seen: set[str] = set()
        current, where = node, location
        while isinstance(current, Mapping) and isinstance(current.get("$ref"), str):
            reference = str(current["$ref"])
            if not reference.startswith("#") or reference in seen:
                return _EMPTY, where
            seen.add(reference)
            try:
                current = jsonpointer.resolve(self.root, reference)
            except jsonpointer.PointerError:
                return _EMPTY, where
            where = jsonpointer.from_fragment(reference)
        return as_mapping(current), where


@dataclass(frozen=True, slots=True)
class SchemaView:
    """The parts of a schema the comparison reads, after `$ref` and `allOf`. Children are kept raw with their
    location, and viewed only when the walk reaches them."""

    location: str
    types: frozenset[str] | None = None
    enum: frozenset[str] | None = None
    properties: Mapping[str, tuple[object, str]] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    items: tuple[object, str] | None = None
    read_only: bool = False
    write_only: bool = False


def view(document: Document, node: object, location: str, depth: int = 0) -> SchemaView:
    """The comparable view of the schema `node` found at `location`."""
    schema, where = document.resolve(node, location)
    types = _types(schema)
    enum = _enum(schema)
    properties = {
        str(name): (sub, jsonpointer.join(where, "properties", str(name)))
        for name, sub in as_mapping(schema.get("properties")).items()
    }
    required = frozenset(str(name) for name in as_list(schema.get("required")) if isinstance(name, str))
    items = (schema["items"], jsonpointer.join(where, "items")) if isinstance(schema.get("items"), Mapping) else None
    read_only, write_only = schema.get("readOnly") is True, schema.get("writeOnly") is True
    for index, member in enumerate(as_list(schema.get("allOf"))):
        if depth >= MAX_DEPTH:
            break
        part = view(document, member, jsonpointer.join(where, "allOf", index), depth + 1)
        for name, sub in part.properties.items():
            properties.setdefault(name, sub)
        required |= part.required
        types = _meet(types, part.types)
        enum = _meet(enum, part.enum)
        items = items or part.items
        read_only, write_only = read_only or part.read_only, write_only or part.write_only
    return SchemaView(where, types, enum, properties, required, items, read_only, write_only)


def _types(schema: Mapping[str, object]) -> frozenset[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = {str(item) for item in declared}
    else:
        return None
    if schema.get("nullable") is True:
        types.add("null")
    return frozenset(types)


def _enum(schema: Mapping[str, object]) -> frozenset[str] | None:
    if "const" in schema:
        return frozenset({_canonical(schema["const"])})
    values = schema.get("enum")
    if not isinstance(values, list):
        return None
    return frozenset(_canonical(value) for value in values)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _meet(left: frozenset[str] | None, right: frozenset[str] | None) -> frozenset[str] | None:
    if left is None or right is None:
        return left if right is None else right
    return left & right


def _accepts(types: frozenset[str], kind: str) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def _listed(values: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(values))


@dataclass(frozen=True, slots=True)
class Where:
    """Where the walk is: the logical pointer (through the operation), a human subject, the property path."""

    pointer: str
    subject: str
    path: str = ""

    def child(self, tokens: tuple[str, ...], step: str) -> Where:
        path = f"{self.path}.{step}" if self.path and not step.startswith("[") else self.path + step
        return Where(jsonpointer.join(self.pointer, *tokens), self.subject, path)

    def describe(self) -> str:
        return f"{self.subject} property {self.path!r}" if self.path else self.subject


def diff_schema(
    stable: tuple[Document, object, str],
    canary: tuple[Document, object, str],
    side: Side,
    where: Where,
) -> list[ApiFinding]:
    """The changes from stable's schema to the canary's, each a finding; `stable` and `canary` are (document,
    schema node, its location)."""
    walk = _Walk(stable[0], canary[0], side)
    walk.walk(view(stable[0], stable[1], stable[2]), view(canary[0], canary[1], canary[2]), where, 0)
    return walk.findings


@dataclass
class _Walk:
    stable: Document
    canary: Document
    side: Side
    findings: list[ApiFinding] = field(default_factory=list)
    _stack: set[tuple[str, str]] = field(default_factory=set)

    def report(self, code: ApiChange, where: Where, message: str, definition: str) -> None:
        shown = definition if definition != where.pointer else None
        self.findings.append(ApiFinding(code=code, pointer=where.pointer, message=message, definition=shown))

    def walk(self, old: SchemaView, new: SchemaView, where: Where, depth: int) -> None:
        key = (old.location, new.location)
        if key in self._stack or depth > MAX_DEPTH:
            return
        self._stack.add(key)
        try:
            self._types(old, new, where)
            self._enum(old, new, where)
            self._properties(old, new, where, depth)
            if old.items is not None and new.items is not None:
                old_items = view(self.stable, *old.items)
                new_items = view(self.canary, *new.items)
                self.walk(old_items, new_items, where.child(("items",), "[]"), depth + 1)
        finally:
            self._stack.discard(key)

    def _types(self, old: SchemaView, new: SchemaView, where: Where) -> None:
        if old.types is None or new.types is None or old.types == new.types:
            return
        shown = f"(stable: {_listed(old.types)}; canary: {_listed(new.types)})"
        lost = {kind for kind in old.types if not _accepts(new.types, kind)}
        gained = {kind for kind in new.types if not _accepts(old.types, kind)}
        if self.side == "request" and lost:
            message = f"{where.describe()} no longer accepts {_listed(lost)} {shown}"
            self.report(ApiChange.TYPE_CHANGED, where, message, new.location)
        elif self.side == "response" and gained:
            message = f"{where.describe()} may now be {_listed(gained)} {shown}"
            self.report(ApiChange.TYPE_CHANGED, where, message, new.location)
        else:
            message = f"{where.describe()} changed type compatibly {shown}"
            self.report(ApiChange.TYPE_CHANGED_COMPATIBLY, where, message, new.location)

    def _enum(self, old: SchemaView, new: SchemaView, where: Where) -> None:
        if old.enum == new.enum:
            return
        subject = where.describe()
        if self.side == "request":
            if old.enum is None and new.enum is not None:
                message = f"{subject} now accepts only {_listed(new.enum)}"
                self.report(ApiChange.REQUEST_ENUM_NARROWED, where, message, new.location)
            elif old.enum is not None and new.enum is not None and old.enum - new.enum:
                message = f"{subject} no longer accepts {_listed(old.enum - new.enum)}"
                self.report(ApiChange.REQUEST_ENUM_NARROWED, where, message, new.location)
            else:
                message = (
                    f"{subject} accepts more values: {_listed((new.enum or set()) - (old.enum or set())) or 'any'}"
                )
                self.report(ApiChange.REQUEST_ENUM_WIDENED, where, message, new.location)
        elif old.enum is not None and new.enum is None:
            message = f"{subject} may now be any value, not only {_listed(old.enum)}"
            self.report(ApiChange.RESPONSE_ENUM_WIDENED, where, message, new.location)
        elif old.enum is not None and new.enum is not None and new.enum - old.enum:
            message = f"{subject} may now be {_listed(new.enum - old.enum)}, which stable never returned"
            self.report(ApiChange.RESPONSE_ENUM_WIDENED, where, message, new.location)
        else:
            removed: frozenset[str] = (old.enum or frozenset()) - (new.enum or frozenset())
            fewer = f"no more {_listed(removed)}" if removed else f"only {_listed(new.enum or set())}"
            self.report(
                ApiChange.RESPONSE_ENUM_NARROWED, where, f"{subject} returns fewer values: {fewer}", new.location
            )

    def _properties(self, old: SchemaView, new: SchemaView, where: Where, depth: int) -> None:
        request = self.side == "request"
        olds = {name: view(self.stable, *sub) for name, sub in old.properties.items()}
        news = {name: view(self.canary, *sub) for name, sub in new.properties.items()}

        def unsent(schema: SchemaView | None) -> bool:
            # not part of this side's traffic: readOnly in a request, writeOnly in a response
            return schema is not None and (schema.read_only if request else schema.write_only)

        for name, before in olds.items():
            here = where.child(("properties", name), name)
            after = news.get(name)
            if unsent(before):
                continue
            if after is None:
                code = ApiChange.REQUEST_PROPERTY_REMOVED if request else ApiChange.RESPONSE_PROPERTY_REMOVED
                self.report(code, here, f"{here.describe()} was removed", before.location)
                continue
            if not request and name in old.required and name not in new.required:
                message = f"{here.describe()} is no longer required: clients may not get it"
                self.report(ApiChange.RESPONSE_PROPERTY_BECAME_OPTIONAL, here, message, after.location)
            self.walk(before, after, here, depth + 1)
        for name in sorted(set(news) - set(olds)):
            here = where.child(("properties", name), name)
            if request and name in new.required and not unsent(news[name]):
                message = f"{here.describe()} is new and required: callers written against stable do not send it"
                self.report(ApiChange.REQUIRED_REQUEST_PROPERTY_ADDED, here, message, news[name].location)
            else:
                self.report(ApiChange.PROPERTY_ADDED, here, f"{here.describe()} was added", news[name].location)
        if not request:
            return
        for name in sorted(new.required - old.required):
            here = where.child(("properties", name), name)
            if (name in news and name not in olds) or unsent(news.get(name)) or unsent(olds.get(name)):
                continue  # a new property was reported above; an unsent one does not matter
            if name in olds:
                message = f"{here.describe()} became required"
                self.report(ApiChange.REQUEST_PROPERTY_BECAME_REQUIRED, here, message, new.location)
            else:
                message = f"{here.describe()} is now required (and not even described)"
                self.report(ApiChange.REQUIRED_REQUEST_PROPERTY_ADDED, here, message, new.location)
        for name in sorted(old.required - new.required):
            if name in news:
                here = where.child(("properties", name), name)
                message = f"{here.describe()} is no longer required"
                self.report(ApiChange.REQUEST_PROPERTY_BECAME_OPTIONAL, here, message, new.location)
