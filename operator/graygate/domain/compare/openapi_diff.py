"""API compatibility: would a caller written against the stable build's OpenAPI 3 document break on the canary's?

Why: a canary can be healthy, fast and correct for new callers while breaking every old one, because it removed
an endpoint or started requiring a header. Comparing the two builds' published documents before traffic moves
catches that with no traffic at all. This module walks paths, operations, parameters, request bodies and 2xx
responses; `openapi_schema` compares the schemas inside them, by direction (request or response); the
vocabulary and severities are in `openapi_findings`.

Matching: paths match by their shape, so `/users/{id}` in stable is `/users/{userId}` in the canary (renaming a
path variable changes no URL); path parameters match by their position in the template, others by `in` and name
(header names case-insensitively). Operation-level parameters override path-level ones, as OpenAPI says. A
stable 2xx status is still served when the canary lists it or its range (`2XX`). `$ref` is followed for path
items, parameters, request bodies, responses and schemas. Parameters described with `content` instead of
`schema` are compared for presence and requiredness only.

The inputs are parsed documents (JSON or YAML, as dicts); nothing here reads files or the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from graygate.domain.compare import jsonpointer
from graygate.domain.compare.findings import severity_rank
from graygate.domain.compare.openapi_findings import ApiChange, ApiCompatReport, ApiFinding, summarize_api
from graygate.domain.compare.openapi_schema import Document, Side, Where, as_list, as_mapping, diff_schema

__all__ = ["METHODS", "ApiChange", "ApiCompatReport", "ApiFinding", "diff_openapi", "summarize_api"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VARIABLE = re.compile(r"\{[^}/]*\}")


@dataclass(frozen=True, slots=True)
class _Operation:
    """One operation of one document, with what is needed to point into it."""

    document: Document
    path: str
    method: str
    item: Mapping[str, object]
    item_pointer: str
    operation: Mapping[str, object]

    @property
    def pointer(self) -> str:
        return jsonpointer.join(self.item_pointer, self.method)

    @property
    def title(self) -> str:
        return f"{self.method.upper()} {self.path}"


def diff_openapi(stable: Mapping[str, object], canary: Mapping[str, object]) -> ApiCompatReport:
    """Every change from stable's document to the canary's, breaking ones first."""
    old_doc, new_doc = Document(stable), Document(canary)
    old_paths, new_paths = as_mapping(stable.get("paths")), as_mapping(canary.get("paths"))
    new_by_shape = {_shape(path): path for path in new_paths}
    old_shapes = {_shape(path) for path in old_paths}
    findings: list[ApiFinding] = []

    def add(code: ApiChange, pointer: str, message: str) -> None:
        findings.append(ApiFinding(code=code, pointer=pointer, message=message))

    for path, raw_item in old_paths.items():
        old_pointer = jsonpointer.join("", "paths", path)
        other = new_by_shape.get(_shape(path))
        if other is None:
            add(ApiChange.PATH_REMOVED, old_pointer, f"{path} was removed, with all its operations")
            continue
        new_pointer = jsonpointer.join("", "paths", other)
        old_item, _ = old_doc.resolve(raw_item, old_pointer)
        new_item, _ = new_doc.resolve(new_paths[other], new_pointer)
        for method in METHODS:
            in_old, in_new = method in old_item, method in new_item
            if in_old and not in_new:
                pointer = jsonpointer.join(old_pointer, method)
                add(ApiChange.OPERATION_REMOVED, pointer, f"{method.upper()} {path} was removed")
            elif in_new and not in_old:
                pointer = jsonpointer.join(new_pointer, method)
                add(ApiChange.OPERATION_ADDED, pointer, f"{method.upper()} {other} was added")
            elif in_old and in_new:
                before = _Operation(old_doc, path, method, old_item, old_pointer, as_mapping(old_item[method]))
                after = _Operation(new_doc, other, method, new_item, new_pointer, as_mapping(new_item[method]))
                findings.extend(_diff_operation(before, after))
    for path in new_paths:
        if _shape(path) not in old_shapes:
            add(ApiChange.PATH_ADDED, jsonpointer.join("", "paths", path), f"{path} was added")
    ordered = sorted(findings, key=lambda finding: -severity_rank(finding.severity))
    return ApiCompatReport(findings=tuple(ordered))


def _shape(path: str) -> str:
    return _VARIABLE.sub("{}", path)


def _diff_operation(old: _Operation, new: _Operation) -> list[ApiFinding]:
    return [*_diff_parameters(old, new), *_diff_request_body(old, new), *_diff_responses(old, new)]


# ---- parameters ----


@dataclass(frozen=True, slots=True)
class _Parameter:
    body: Mapping[str, object]
    pointer: str  # where it is listed in the operation or path item
    defined: str  # where it is really defined ($ref followed)

    @property
    def label(self) -> str:
        return f"{self.body.get('in')} parameter {self.body.get('name')!r}"

    @property
    def required(self) -> bool:
        return self.body.get("required") is True or self.body.get("in") == "path"


def _parameters(op: _Operation) -> dict[tuple[str, str], _Parameter]:
    found: dict[tuple[str, str], _Parameter] = {}
    for base, source in ((op.item_pointer, op.item), (op.pointer, op.operation)):
        for index, raw in enumerate(as_list(source.get("parameters"))):
            pointer = jsonpointer.join(base, "parameters", index)
            body, defined = op.document.resolve(raw, pointer)
            name, where = body.get("name"), body.get("in")
            if not isinstance(name, str) or not isinstance(where, str):
                continue
            if where == "path":
                variables = [match.group(0)[1:-1] for match in _VARIABLE.finditer(op.path)]
                key = f"#{variables.index(name)}" if name in variables else name
            else:
                key = name.lower() if where == "header" else name
            found[(where, key)] = _Parameter(body, pointer, defined)
    return found


def _diff_parameters(old: _Operation, new: _Operation) -> list[ApiFinding]:
    findings: list[ApiFinding] = []
    olds, news = _parameters(old), _parameters(new)

    def add(code: ApiChange, parameter: _Parameter, message: str) -> None:
        definition = parameter.defined if parameter.defined != parameter.pointer else None
        findings.append(ApiFinding(code=code, pointer=parameter.pointer, message=message, definition=definition))

    for key, before in olds.items():
        after = news.get(key)
        subject = f"{new.title} {before.label}"
        if after is None:
            message = f"{old.title} {before.label} was removed: callers still sending it lose its effect"
            add(ApiChange.PARAMETER_REMOVED, before, message)
            continue
        if after.required and not before.required:
            add(ApiChange.PARAMETER_BECAME_REQUIRED, after, f"{subject} became required")
        elif before.required and not after.required:
            add(ApiChange.PARAMETER_BECAME_OPTIONAL, after, f"{subject} became optional")
        if "schema" in before.body and "schema" in after.body:
            findings.extend(
                diff_schema(
                    (old.document, before.body["schema"], jsonpointer.join(before.defined, "schema")),
                    (new.document, after.body["schema"], jsonpointer.join(after.defined, "schema")),
                    "request",
                    Where(jsonpointer.join(after.pointer, "schema"), subject),
                )
            )
    for key, after in news.items():
        if key in olds:
            continue
        if after.required:
            message = f"{new.title} {after.label} is new and required: callers written against stable omit it"
            add(ApiChange.REQUIRED_PARAMETER_ADDED, after, message)
        else:
            add(ApiChange.PARAMETER_ADDED, after, f"{new.title} {after.label} was added")
    return findings


# ---- request bodies ----


def _diff_request_body(old: _Operation, new: _Operation) -> list[ApiFinding]:
    old_pointer = jsonpointer.join(old.pointer, "requestBody")
    new_pointer = jsonpointer.join(new.pointer, "requestBody")
    before, old_defined = old.document.resolve(old.operation.get("requestBody"), old_pointer)
    after, new_defined = new.document.resolve(new.operation.get("requestBody"), new_pointer)
    has_old, has_new = "requestBody" in old.operation, "requestBody" in new.operation
    old_required, new_required = has_old and before.get("required") is True, has_new and after.get("required") is True
    if not has_old and not has_new:
        return []
    if has_old and not has_new:
        message = f"{old.title} no longer takes a request body"
        return [ApiFinding(code=ApiChange.REQUEST_BODY_REMOVED, pointer=old_pointer, message=message)]
    findings: list[ApiFinding] = []
    if new_required and not old_required:
        message = f"{new.title} now requires a request body"
        findings.append(ApiFinding(code=ApiChange.REQUEST_BODY_BECAME_REQUIRED, pointer=new_pointer, message=message))
    elif not has_old:
        message = f"{new.title} now takes an optional request body"
        findings.append(ApiFinding(code=ApiChange.REQUEST_BODY_ADDED, pointer=new_pointer, message=message))
    if not has_old:
        return findings
    old_content, new_content = as_mapping(before.get("content")), as_mapping(after.get("content"))
    for media_type, old_media in old_content.items():
        pointer = jsonpointer.join(old_pointer, "content", media_type)
        if media_type not in new_content:
            message = f"{new.title} no longer accepts a {media_type} request body"
            findings.append(ApiFinding(code=ApiChange.REQUEST_MEDIA_TYPE_REMOVED, pointer=pointer, message=message))
            continue
        findings.extend(
            _diff_media(
                (old, old_media, jsonpointer.join(old_defined, "content", media_type)),
                (new, new_content[media_type], jsonpointer.join(new_defined, "content", media_type)),
                jsonpointer.join(new_pointer, "content", media_type),
                f"{new.title} request body ({media_type})",
                "request",
            )
        )
    return findings


def _diff_media(
    old: tuple[_Operation, object, str],
    new: tuple[_Operation, object, str],
    pointer: str,
    subject: str,
    side: Side,
) -> list[ApiFinding]:
    old_media, new_media = as_mapping(old[1]), as_mapping(new[1])
    if "schema" not in old_media or "schema" not in new_media:
        return []
    return diff_schema(
        (old[0].document, old_media["schema"], jsonpointer.join(old[2], "schema")),
        (new[0].document, new_media["schema"], jsonpointer.join(new[2], "schema")),
        side,
        Where(jsonpointer.join(pointer, "schema"), subject),
    )


# ---- responses ----


def _success_codes(responses: Mapping[str, object]) -> list[str]:
    return [str(code) for code in responses if str(code).startswith("2")]


def _served_as(code: str, responses: Mapping[str, object]) -> str | None:
    return next((candidate for candidate in (code, code.upper(), "2XX", "2xx") if candidate in responses), None)


def _diff_responses(old: _Operation, new: _Operation) -> list[ApiFinding]:
    findings: list[ApiFinding] = []
    old_base, new_base = jsonpointer.join(old.pointer, "responses"), jsonpointer.join(new.pointer, "responses")
    old_responses, new_responses = (
        as_mapping(old.operation.get("responses")),
        as_mapping(new.operation.get("responses")),
    )
    for code in _success_codes(old_responses):
        old_pointer = jsonpointer.join(old_base, code)
        served = _served_as(code, new_responses)
        if served is None:
            message = f"{old.title} no longer answers {code}: clients expecting it break"
            findings.append(ApiFinding(code=ApiChange.RESPONSE_STATUS_REMOVED, pointer=old_pointer, message=message))
            continue
        new_pointer = jsonpointer.join(new_base, served)
        before, old_defined = old.document.resolve(old_responses[code], old_pointer)
        after, new_defined = new.document.resolve(new_responses[served], new_pointer)
        old_content, new_content = as_mapping(before.get("content")), as_mapping(after.get("content"))
        for media_type, old_media in old_content.items():
            if media_type not in new_content:
                pointer = jsonpointer.join(old_pointer, "content", media_type)
                message = f"{old.title} response {code} no longer comes as {media_type}"
                findings.append(
                    ApiFinding(code=ApiChange.RESPONSE_MEDIA_TYPE_REMOVED, pointer=pointer, message=message)
                )
                continue
            findings.extend(
                _diff_media(
                    (old, old_media, jsonpointer.join(old_defined, "content", media_type)),
                    (new, new_content[media_type], jsonpointer.join(new_defined, "content", media_type)),
                    jsonpointer.join(new_pointer, "content", media_type),
                    f"{new.title} response {served} ({media_type})",
                    "response",
                )
            )
    covered = {_served_as(code, new_responses) for code in _success_codes(old_responses)}
    for code in _success_codes(new_responses):
        if code not in covered and code not in old_responses:
            message = f"{new.title} may now answer {code}"
            pointer = jsonpointer.join(new_base, code)
            findings.append(ApiFinding(code=ApiChange.RESPONSE_STATUS_ADDED, pointer=pointer, message=message))
    return findings
