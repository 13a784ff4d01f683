"""API compatibility: each case edits a copy of one small OpenAPI document and names the findings (change, JSON
pointer) the edit must produce; then the rules that need more than a pair to show (definitions, cycles, pointers)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from graygate.domain.compare import jsonpointer
from graygate.domain.compare.openapi_diff import ApiChange, ApiCompatReport, diff_openapi, summarize_api
from graygate.domain.compare.openapi_findings import SEVERITY

A = ApiChange
Doc = dict[str, Any]

USER_BY_ID = "/paths/~1users~1{id}"
USERS = "/paths/~1users"
JSON = "content/application~1json/schema"
GET_USER = f"{USER_BY_ID}/get/responses/200/{JSON}"
LIST_USERS = f"{USERS}/get/responses/200/{JSON}/items"
CREATED_USER = f"{USERS}/post/responses/201/{JSON}"
NEW_USER = f"{USERS}/post/requestBody/{JSON}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def base() -> Doc:
    """Users: list (paged), create, read, delete. `User` is returned three times; `Role` is both sent and returned."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "users", "version": "1.4.0"},
        "paths": {
            "/users": {
                "get": {
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": json_body({"type": "array", "items": ref("User")})},
                },
                "post": {
                    "requestBody": {"required": True, **json_body(ref("NewUser"))},
                    "responses": {"201": json_body(ref("User"))},
                },
            },
            "/users/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {
                    "parameters": [{"name": "X-Tenant", "in": "header", "schema": {"type": "string"}}],
                    "responses": {"200": json_body(ref("User")), "404": {"description": "no such user"}},
                },
                "delete": {"responses": {"204": {"description": "deleted"}}},
            },
            "/orders": {"get": {"responses": {"200": {"description": "orders"}}}},
        },
        "components": {
            "schemas": {
                "User": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "integer", "readOnly": True},
                        "name": {"type": "string"},
                        "email": {"type": "string"},
                        "status": {"type": "string", "enum": ["active", "suspended"]},
                        "role": ref("Role"),
                        "password": {"type": "string", "writeOnly": True},
                    },
                },
                "NewUser": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "role": ref("Role"), "nickname": {"type": "string"}},
                },
                "Role": {"type": "string", "enum": ["admin", "member"]},
            }
        },
    }


def edit(change: Callable[[Doc], object]) -> Doc:
    document = base()
    change(document)
    return document


def schemas(document: Doc) -> dict[str, Any]:
    return document["components"]["schemas"]  # type: ignore[no-any-return]


def user(document: Doc) -> dict[str, Any]:
    return schemas(document)["User"]  # type: ignore[no-any-return]


def new_user(document: Doc) -> dict[str, Any]:
    return schemas(document)["NewUser"]  # type: ignore[no-any-return]


def list_params(document: Doc) -> list[dict[str, Any]]:
    return document["paths"]["/users"]["get"]["parameters"]  # type: ignore[no-any-return]


def rename_path_variable(document: Doc) -> None:
    item = document["paths"].pop("/users/{id}")
    item["parameters"][0]["name"] = "userId"
    document["paths"]["/users/{userId}"] = item


def set_status(document: Doc, old: str, new: str) -> None:
    responses = document["paths"]["/users/{id}"]["get"]["responses"]
    responses[new] = responses.pop(old)


CASES: list[Any] = [
    pytest.param(lambda d: None, set(), id="identical"),
    pytest.param(lambda d: d["paths"].pop("/orders"), {(A.PATH_REMOVED, "/paths/~1orders")}, id="path-removed"),
    pytest.param(
        lambda d: d["paths"].update({"/health": {"get": {"responses": {}}}}),
        {(A.PATH_ADDED, "/paths/~1health")},
        id="path-added",
    ),
    pytest.param(rename_path_variable, set(), id="renamed-path-variable-is-the-same-path"),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"].pop("delete"),
        {(A.OPERATION_REMOVED, f"{USER_BY_ID}/delete")},
        id="operation-removed",
    ),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"].update({"patch": {"responses": {}}}),
        {(A.OPERATION_ADDED, f"{USER_BY_ID}/patch")},
        id="operation-added",
    ),
    pytest.param(
        lambda d: user(d)["properties"].pop("email"),
        {
            (A.RESPONSE_PROPERTY_REMOVED, f"{GET_USER}/properties/email"),
            (A.RESPONSE_PROPERTY_REMOVED, f"{LIST_USERS}/properties/email"),
            (A.RESPONSE_PROPERTY_REMOVED, f"{CREATED_USER}/properties/email"),
        },
        id="response-property-removed-reported-per-operation",
    ),
    pytest.param(
        lambda d: user(d)["properties"].pop("password"),
        set(),
        id="write-only-property-is-never-returned",
    ),
    pytest.param(
        lambda d: user(d)["properties"].update({"age": {"type": "integer"}}),
        {
            (A.PROPERTY_ADDED, f"{GET_USER}/properties/age"),
            (A.PROPERTY_ADDED, f"{LIST_USERS}/properties/age"),
            (A.PROPERTY_ADDED, f"{CREATED_USER}/properties/age"),
        },
        id="response-property-added",
    ),
    pytest.param(
        lambda d: user(d)["required"].remove("name"),
        {
            (A.RESPONSE_PROPERTY_BECAME_OPTIONAL, f"{GET_USER}/properties/name"),
            (A.RESPONSE_PROPERTY_BECAME_OPTIONAL, f"{LIST_USERS}/properties/name"),
            (A.RESPONSE_PROPERTY_BECAME_OPTIONAL, f"{CREATED_USER}/properties/name"),
        },
        id="response-property-became-optional",
    ),
    pytest.param(
        lambda d: user(d)["properties"]["id"].update({"type": "string"}),
        {
            (A.TYPE_CHANGED, f"{GET_USER}/properties/id"),
            (A.TYPE_CHANGED, f"{LIST_USERS}/properties/id"),
            (A.TYPE_CHANGED, f"{CREATED_USER}/properties/id"),
        },
        id="response-property-type-changed",
    ),
    pytest.param(
        lambda d: user(d)["properties"]["name"].update({"nullable": True}),
        {
            (A.TYPE_CHANGED, f"{GET_USER}/properties/name"),
            (A.TYPE_CHANGED, f"{LIST_USERS}/properties/name"),
            (A.TYPE_CHANGED, f"{CREATED_USER}/properties/name"),
        },
        id="response-may-now-be-null",
    ),
    pytest.param(
        lambda d: user(d)["properties"]["id"].update({"type": "number"}),
        {
            (A.TYPE_CHANGED, f"{GET_USER}/properties/id"),
            (A.TYPE_CHANGED, f"{LIST_USERS}/properties/id"),
            (A.TYPE_CHANGED, f"{CREATED_USER}/properties/id"),
        },
        id="response-integer-to-number-breaks-clients",
    ),
    pytest.param(
        lambda d: list_params(d)[0]["schema"].update({"type": "string"}),
        {(A.TYPE_CHANGED, f"{USERS}/get/parameters/0/schema")},
        id="parameter-type-changed",
    ),
    pytest.param(
        lambda d: list_params(d)[0]["schema"].update({"type": "number"}),
        {(A.TYPE_CHANGED_COMPATIBLY, f"{USERS}/get/parameters/0/schema")},
        id="parameter-integer-to-number-is-compatible",
    ),
    pytest.param(
        lambda d: list_params(d).append({"name": "tenant", "in": "query", "required": True}),
        {(A.REQUIRED_PARAMETER_ADDED, f"{USERS}/get/parameters/1")},
        id="new-required-query-parameter",
    ),
    pytest.param(
        lambda d: list_params(d).append({"name": "session", "in": "cookie", "required": True}),
        {(A.REQUIRED_PARAMETER_ADDED, f"{USERS}/get/parameters/1")},
        id="new-required-cookie",
    ),
    pytest.param(
        lambda d: list_params(d).append({"name": "offset", "in": "query"}),
        {(A.PARAMETER_ADDED, f"{USERS}/get/parameters/1")},
        id="new-optional-parameter",
    ),
    pytest.param(
        lambda d: list_params(d)[0].update({"required": True}),
        {(A.PARAMETER_BECAME_REQUIRED, f"{USERS}/get/parameters/0")},
        id="parameter-became-required",
    ),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"]["get"]["parameters"][0].update({"name": "x-tenant", "required": True}),
        {(A.PARAMETER_BECAME_REQUIRED, f"{USER_BY_ID}/get/parameters/0")},
        id="header-names-match-case-insensitively",
    ),
    pytest.param(
        lambda d: list_params(d).clear(),
        {(A.PARAMETER_REMOVED, f"{USERS}/get/parameters/0")},
        id="parameter-removed-is-a-warning",
    ),
    pytest.param(
        lambda d: new_user(d).update(
            {"required": ["name", "team"], "properties": {**new_user(d)["properties"], "team": {"type": "string"}}}
        ),
        {(A.REQUIRED_REQUEST_PROPERTY_ADDED, f"{NEW_USER}/properties/team")},
        id="new-required-request-property",
    ),
    pytest.param(
        lambda d: new_user(d)["properties"].update({"team": {"type": "string"}}),
        {(A.PROPERTY_ADDED, f"{NEW_USER}/properties/team")},
        id="new-optional-request-property",
    ),
    pytest.param(
        lambda d: new_user(d)["required"].append("nickname"),
        {(A.REQUEST_PROPERTY_BECAME_REQUIRED, f"{NEW_USER}/properties/nickname")},
        id="request-property-became-required",
    ),
    pytest.param(
        lambda d: new_user(d)["required"].append("avatar"),
        {(A.REQUIRED_REQUEST_PROPERTY_ADDED, f"{NEW_USER}/properties/avatar")},
        id="required-but-undescribed-request-property",
    ),
    pytest.param(
        lambda d: new_user(d).update(
            {
                "required": ["name", "id"],
                "properties": {**new_user(d)["properties"], "id": {"type": "integer", "readOnly": True}},
            }
        ),
        {(A.PROPERTY_ADDED, f"{NEW_USER}/properties/id")},
        id="read-only-property-is-never-sent",
    ),
    pytest.param(
        lambda d: new_user(d)["required"].clear(),
        {(A.REQUEST_PROPERTY_BECAME_OPTIONAL, f"{NEW_USER}/properties/name")},
        id="request-property-became-optional",
    ),
    pytest.param(
        lambda d: new_user(d)["properties"].pop("nickname"),
        {(A.REQUEST_PROPERTY_REMOVED, f"{NEW_USER}/properties/nickname")},
        id="request-property-removed-is-a-warning",
    ),
    pytest.param(
        lambda d: new_user(d)["properties"]["nickname"].update({"enum": ["ace", "bee"]}),
        {(A.REQUEST_ENUM_NARROWED, f"{NEW_USER}/properties/nickname")},
        id="request-enum-where-there-was-none-narrows",
    ),
    pytest.param(
        lambda d: schemas(d)["Role"]["enum"].remove("member"),
        {
            (A.REQUEST_ENUM_NARROWED, f"{NEW_USER}/properties/role"),
            (A.RESPONSE_ENUM_NARROWED, f"{GET_USER}/properties/role"),
            (A.RESPONSE_ENUM_NARROWED, f"{LIST_USERS}/properties/role"),
            (A.RESPONSE_ENUM_NARROWED, f"{CREATED_USER}/properties/role"),
        },
        id="shared-enum-value-removed-breaks-senders-only",
    ),
    pytest.param(
        lambda d: schemas(d)["Role"]["enum"].append("guest"),
        {
            (A.REQUEST_ENUM_WIDENED, f"{NEW_USER}/properties/role"),
            (A.RESPONSE_ENUM_WIDENED, f"{GET_USER}/properties/role"),
            (A.RESPONSE_ENUM_WIDENED, f"{LIST_USERS}/properties/role"),
            (A.RESPONSE_ENUM_WIDENED, f"{CREATED_USER}/properties/role"),
        },
        id="shared-enum-value-added-breaks-readers-only",
    ),
    pytest.param(
        lambda d: user(d)["properties"]["status"].pop("enum"),
        {
            (A.RESPONSE_ENUM_WIDENED, f"{GET_USER}/properties/status"),
            (A.RESPONSE_ENUM_WIDENED, f"{LIST_USERS}/properties/status"),
            (A.RESPONSE_ENUM_WIDENED, f"{CREATED_USER}/properties/status"),
        },
        id="response-enum-dropped-means-any-value",
    ),
    pytest.param(
        lambda d: d["paths"]["/users"]["post"]["requestBody"].update({"required": False}),
        set(),
        id="request-body-became-optional",
    ),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"]["delete"].update({"requestBody": {"required": True, **json_body({})}}),
        {(A.REQUEST_BODY_BECAME_REQUIRED, f"{USER_BY_ID}/delete/requestBody")},
        id="new-required-request-body",
    ),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"]["delete"].update({"requestBody": json_body({})}),
        {(A.REQUEST_BODY_ADDED, f"{USER_BY_ID}/delete/requestBody")},
        id="new-optional-request-body",
    ),
    pytest.param(
        lambda d: d["paths"]["/users"]["post"].pop("requestBody"),
        {(A.REQUEST_BODY_REMOVED, f"{USERS}/post/requestBody")},
        id="request-body-removed-is-a-warning",
    ),
    pytest.param(
        lambda d: d["paths"]["/users"]["post"]["requestBody"].update({"content": {"application/xml": {}}}),
        {(A.REQUEST_MEDIA_TYPE_REMOVED, f"{USERS}/post/requestBody/content/application~1json")},
        id="request-media-type-removed",
    ),
    pytest.param(
        lambda d: set_status(d, "200", "202"),
        {
            (A.RESPONSE_STATUS_REMOVED, f"{USER_BY_ID}/get/responses/200"),
            (A.RESPONSE_STATUS_ADDED, f"{USER_BY_ID}/get/responses/202"),
        },
        id="success-status-changed",
    ),
    pytest.param(lambda d: set_status(d, "200", "2XX"), set(), id="a-status-range-still-serves-it"),
    pytest.param(lambda d: set_status(d, "404", "410"), set(), id="error-statuses-are-not-compared"),
    pytest.param(
        lambda d: d["paths"]["/users/{id}"]["get"]["responses"]["200"].update({"content": {"text/csv": {}}}),
        {(A.RESPONSE_MEDIA_TYPE_REMOVED, f"{USER_BY_ID}/get/responses/200/content/application~1json")},
        id="response-media-type-removed",
    ),
    pytest.param(
        lambda d: schemas(d).update(
            {
                "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                "User": {"allOf": [ref("Named"), {**user(d), "required": ["id"]}]},
            }
        ),
        set(),
        id="all-of-merges-into-the-same-schema",
    ),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_change(change: Callable[[Doc], object], expected: set[tuple[ApiChange, str]]) -> None:
    report = diff_openapi(base(), edit(change))
    assert {(finding.code, finding.pointer) for finding in report.findings} == expected


def test_a_finding_through_ref_names_where_the_schema_is_defined() -> None:
    report = diff_openapi(base(), edit(lambda d: user(d)["properties"].pop("email")))
    finding = next(f for f in report.findings if f.pointer == f"{GET_USER}/properties/email")
    assert finding.definition == "/components/schemas/User/properties/email"
    assert finding.message == "GET /users/{id} response 200 (application/json) property 'email' was removed"
    assert finding.breaking


def test_a_narrowed_request_enum_names_the_values() -> None:
    report = diff_openapi(base(), edit(lambda d: schemas(d)["Role"]["enum"].remove("member")))
    narrowed = report.breaking[0]
    assert narrowed.code is A.REQUEST_ENUM_NARROWED
    assert (
        narrowed.message == "POST /users request body (application/json) property 'role' no longer accepts \"member\""
    )
    assert narrowed.definition == "/components/schemas/Role"


def test_breaking_findings_come_first() -> None:
    report = diff_openapi(base(), edit(lambda d: (d["paths"].pop("/orders"), d["paths"].update({"/a": {}}))))
    assert [f.code for f in report.findings] == [A.PATH_REMOVED, A.PATH_ADDED]
    assert not report.compatible
    assert report.worst == "error"


def _tree(name_type: str = "string") -> Doc:
    node = {
        "type": "object",
        "properties": {
            "name": {"type": name_type},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            "parent": {"$ref": "#/components/schemas/Node"},
        },
    }
    return {
        "paths": {"/tree": {"get": {"responses": {"200": json_body({"$ref": "#/components/schemas/Node"})}}}},
        "components": {"schemas": {"Node": node, "Loop": {"allOf": [{"$ref": "#/components/schemas/Loop"}]}}},
    }


def test_a_recursive_schema_is_walked_once_and_still_compared() -> None:
    report = diff_openapi(_tree(), _tree("integer"))
    assert [(f.code, f.pointer) for f in report.findings] == [
        (A.TYPE_CHANGED, f"/paths/~1tree/get/responses/200/{JSON}/properties/name")
    ]


def test_a_self_including_all_of_and_a_ref_loop_terminate() -> None:
    stable, canary = _tree(), _tree()
    for document in (stable, canary):
        document["paths"]["/loop"] = {"post": {"requestBody": json_body({"$ref": "#/components/schemas/Loop"})}}
        document["components"]["schemas"]["A"] = {"$ref": "#/components/schemas/B"}
        document["components"]["schemas"]["B"] = {"$ref": "#/components/schemas/A"}
        document["paths"]["/ab"] = {"get": {"responses": {"200": json_body({"$ref": "#/components/schemas/A"})}}}
    assert diff_openapi(stable, canary).findings == ()


def test_external_and_dangling_refs_are_empty_schemas() -> None:
    def doc(schema: dict[str, Any]) -> Doc:
        return {"paths": {"/x": {"get": {"responses": {"200": json_body(schema)}}}}}

    assert diff_openapi(doc({"$ref": "other.yaml#/User"}), doc({"$ref": "#/components/schemas/Missing"})).findings == ()


def test_path_items_parameters_bodies_and_responses_may_be_refs() -> None:
    def doc(limit_type: str) -> Doc:
        return {
            "paths": {
                "/users": {"$ref": "#/components/pathItems/Users"},
            },
            "components": {
                "pathItems": {
                    "Users": {
                        "get": {
                            "parameters": [{"$ref": "#/components/parameters/Limit"}],
                            "responses": {"200": {"$ref": "#/components/responses/Users"}},
                        },
                        "post": {"requestBody": {"$ref": "#/components/requestBodies/NewUser"}, "responses": {}},
                    }
                },
                "parameters": {"Limit": {"name": "limit", "in": "query", "schema": {"type": limit_type}}},
                "responses": {"Users": json_body({"type": "array", "items": {"type": "string"}})},
                "requestBodies": {"NewUser": {"required": True, **json_body({"type": "object"})}},
            },
        }

    report = diff_openapi(doc("integer"), doc("string"))
    assert [(f.code, f.pointer, f.definition) for f in report.findings] == [
        (A.TYPE_CHANGED, f"{USERS}/get/parameters/0/schema", "/components/parameters/Limit/schema")
    ]


def test_pointers_escape_tilde_and_slash() -> None:
    def doc(extra: dict[str, Any]) -> Doc:
        properties = {"a/b": {"type": "string"}, "~x": {"type": "string"}, **extra}
        schema = {"type": "object", "properties": properties}
        return {"paths": {"/files/{path}~raw": {"get": {"responses": {"200": json_body(schema)}}}}}

    stable = doc({})
    canary = doc({})
    canary["paths"]["/files/{path}~raw"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"
    ] = {}
    pointers = sorted(f.pointer for f in diff_openapi(stable, canary).findings)
    base_pointer = f"/paths/~1files~1{{path}}~0raw/get/responses/200/{JSON}/properties"
    assert pointers == [f"{base_pointer}/a~1b", f"{base_pointer}/~0x"]
    for pointer in pointers:
        assert jsonpointer.resolve(stable, pointer) == {"type": "string"}


@pytest.mark.parametrize(
    ("tokens", "pointer"),
    [
        pytest.param((), "", id="whole-document"),
        pytest.param(("paths", "/users/{id}"), "/paths/~1users~1{id}", id="slash"),
        pytest.param(("a~b", "c/d~"), "/a~0b/c~1d~0", id="tilde-and-slash"),
        pytest.param(("~1",), "/~01", id="escaped-looking-token-stays-literal"),
        pytest.param(("items", 0), "/items/0", id="index"),
        pytest.param(("",), "/", id="empty-key"),
    ],
)
def test_pointer_round_trip(tokens: tuple[str | int, ...], pointer: str) -> None:
    assert jsonpointer.join("", *tokens) == pointer
    assert jsonpointer.split(pointer) == tuple(str(token) for token in tokens)


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        pytest.param("", {"a/b": [10, {"~": "x"}], "": 1, "é": 2}, id="root"),
        pytest.param("/a~1b/0", 10, id="index"),
        pytest.param("/a~1b/1/~0", "x", id="tilde"),
        pytest.param("/", 1, id="empty-key"),
        pytest.param("#/a~1b/1/%7E0", "x", id="uri-fragment-is-percent-decoded"),
        pytest.param("#/%C3%A9", 2, id="utf8-fragment"),
    ],
)
def test_pointer_resolves(pointer: str, value: object) -> None:
    assert jsonpointer.resolve({"a/b": [10, {"~": "x"}], "": 1, "é": 2}, pointer) == value


@pytest.mark.parametrize("pointer", ["a", "/missing", "/a~1b/2", "/a~1b/01", "/a~1b/x"])
def test_pointer_that_does_not_resolve(pointer: str) -> None:
    with pytest.raises(jsonpointer.PointerError):
        jsonpointer.resolve({"a/b": [10, {"~": "x"}]}, pointer)


def test_summary() -> None:
    report = diff_openapi(base(), edit(lambda d: (d["paths"].pop("/orders"), list_params(d).clear())))
    assert summarize_api(report) == (
        "API compatibility: 1 error, 1 warning, 0 info: PathRemoved at /paths/~1orders: /orders was removed, with "
        "all its operations; ParameterRemoved at /paths/~1users/get/parameters/0: GET /users query parameter "
        "'limit' was removed: callers still sending it lose its effect"
    )
    assert summarize_api(ApiCompatReport(findings=())) == "API compatibility: 0 errors, 0 warnings, 0 info"


def test_every_change_has_a_severity() -> None:
    assert set(SEVERITY) == set(ApiChange)
    breaking = {change for change, severity in SEVERITY.items() if severity == "error"}
    assert A.RESPONSE_ENUM_WIDENED in breaking
    assert A.REQUEST_ENUM_NARROWED in breaking
    assert A.REQUEST_ENUM_WIDENED not in breaking
    assert A.RESPONSE_ENUM_NARROWED not in breaking


def test_the_inputs_are_not_modified() -> None:
    stable, canary = base(), edit(lambda d: user(d)["properties"].pop("email"))
    before = copy.deepcopy((stable, canary))
    diff_openapi(stable, canary)
    assert (stable, canary) == before
