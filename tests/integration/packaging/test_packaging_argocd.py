"""Argo CD's health check and actions for CanaryRelease, run case by case from health_test.yaml and action_test.yaml
(laid out like Argo CD's own resource_customizations) under Argo CD's own Lua: gopher-lua with the libraries and
object conversion Argo CD v3.6.2 sets up (the toolchain's `argolua`, see argocd_lua.py), plus the checks that keep
the test data honest: every status parses with graygate's own model, every file is used."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from argocd_lua import (
    ArgoLua,
    ArgoLuaMissingError,
    LuaScriptError,
    argolua_binary,
    gopher_lua_version,
    with_action_defaults,
)
from helm_tools import REPO

from graygate.api import CanaryReleaseStatus

HERE = REPO / "argocd" / "resource_customizations" / "graygate.dev" / "CanaryRelease"
ACTIONS = HERE / "actions"
NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)  # the clock action_test.yaml's expected outputs were made with

HEALTH_CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "health_test.yaml").read_text())["tests"]
ACTION_SUITE: dict[str, Any] = yaml.safe_load((ACTIONS / "action_test.yaml").read_text())
DISCOVERY_CASES: list[dict[str, Any]] = ACTION_SUITE["discoveryTests"]
ACTION_CASES: list[dict[str, Any]] = ACTION_SUITE["actionTests"]
ACTION_NAMES = sorted(path.parent.name for path in ACTIONS.glob("*/action.lua"))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


@pytest.fixture(scope="session")
def argolua() -> Path:
    try:
        return argolua_binary()
    except ArgoLuaMissingError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def lua(argolua: Path, tmp_path: Path) -> ArgoLua:
    return ArgoLua(binary=argolua, now=NOW, scratch=tmp_path)


@pytest.mark.parametrize("case", HEALTH_CASES, ids=[Path(c["inputPath"]).stem for c in HEALTH_CASES])
def test_health(lua: ArgoLua, case: dict[str, Any]) -> None:
    health = lua.health(HERE / "health.lua", HERE / case["inputPath"])
    expected = case["healthStatus"]
    assert health == {"status": expected["status"], "message": expected.get("message", "")}


@pytest.mark.parametrize("case", DISCOVERY_CASES, ids=[Path(c["inputPath"]).stem for c in DISCOVERY_CASES])
def test_discovery(lua: ArgoLua, case: dict[str, Any]) -> None:
    found = lua.discovery(ACTIONS / "discovery.lua", ACTIONS / case["inputPath"])
    expected = sorted((with_action_defaults(action) for action in case["result"]), key=lambda action: action["name"])
    assert found == expected


@pytest.mark.parametrize("case", ACTION_CASES, ids=[f"{c['action']}-{Path(c['inputPath']).stem}" for c in ACTION_CASES])
def test_action(lua: ArgoLua, case: dict[str, Any]) -> None:
    changed = lua.action(ACTIONS / case["action"] / "action.lua", ACTIONS / case["inputPath"])
    assert changed == load(ACTIONS / case["expectedOutputPath"])


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_each_action_sets_a_command_the_operator_parses_and_has_not_seen(lua: ArgoLua, action: str) -> None:
    from graygate.api.commands import parse_command

    source = load(ACTIONS / "testdata" / "command_handled.yaml")
    changed = lua.action(ACTIONS / action / "action.lua", source)
    value = changed["metadata"]["annotations"]["graygate.dev/command"]
    command = parse_command(value)
    assert command.action.value == action
    assert command.id == "2025-03-14T15:09:26Z"
    assert value != source["status"]["lastCommand"]["value"], "a value already handled would be ignored"
    assert changed["metadata"]["annotations"]["team"] == "shop", "other annotations stay"
    assert {k: v for k, v in changed.items() if k != "metadata"} == {k: v for k, v in source.items() if k != "metadata"}


def test_discovery_offers_exactly_the_actions_that_exist(lua: ArgoLua) -> None:
    found = lua.discovery(ACTIONS / "discovery.lua", ACTIONS / "testdata" / "progressing.yaml")
    assert [action["name"] for action in found] == ACTION_NAMES
    assert sorted(["promote", "promote-full", "pause", "resume", "abort", "retry"]) == ACTION_NAMES


def test_every_test_data_file_is_used() -> None:
    used = {HERE / case["inputPath"] for case in HEALTH_CASES}
    used |= {ACTIONS / case["inputPath"] for case in DISCOVERY_CASES}
    used |= {ACTIONS / case[key] for case in ACTION_CASES for key in ("inputPath", "expectedOutputPath")}
    files = set((HERE / "testdata").glob("*.yaml")) | set((ACTIONS / "testdata").glob("*.yaml"))
    assert files - used == set(), "unused test data"
    assert used - files == set(), "missing test data"


def test_test_data_statuses_are_what_graygate_writes() -> None:
    files = sorted((HERE / "testdata").glob("*.yaml")) + sorted((ACTIONS / "testdata").glob("*.yaml"))
    for path in files:
        status = load(path).get("status")
        if status is None or path.stem == "unknown_phase":
            continue
        CanaryReleaseStatus.model_validate(status)


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ('return {status = string.upper("healthy")}', r"non-table object\(nil\) with key 'upper'"),
        ('return {status = ("Healthy"):lower()}', r"non-table object\(string\) with key 'lower'"),
        ("return {status = tostring(math.floor(1))}", r"non-table object\(nil\) with key 'floor'"),
        ('local io = require("io") return {}', "module io not found"),
        # Argo CD's safe os is only require("os"): with useOpenLibs unset the global `os` is nil (oslib_safe.go
        # registers its functions under the table library's name), a trap a friendlier Lua would hide.
        ('return {status = "Healthy", message = os.date("!%Y")}', r"non-table object\(nil\) with key 'date'"),
        ('return "Healthy"', "expect table output from Lua script, not string"),
    ],
    ids=["string-library", "string-methods", "math", "require-io", "global-os", "not-a-table"],
)
def test_the_lua_state_is_as_bare_as_argo_cds(lua: ArgoLua, script: str, problem: str) -> None:
    with pytest.raises(LuaScriptError, match=problem):
        lua.health(script, {"metadata": {"name": "x"}})


def test_a_script_gets_argo_cds_one_second(lua: ArgoLua) -> None:
    with pytest.raises(LuaScriptError, match="context deadline exceeded"):
        lua.health("while true do end", {})


def test_an_unknown_health_status_reads_as_unknown(lua: ArgoLua) -> None:
    health = lua.health('return {status = "Fine", message = "all good"}', {})
    assert health == {"status": "Unknown", "message": "Lua returned an invalid health status"}


def test_nil_is_no_health_and_an_empty_table_an_empty_one(lua: ArgoLua) -> None:
    assert lua.health("return nil", {}) is None
    assert lua.health("return {}", {}) == {"status": "", "message": ""}


def test_the_clock_is_argo_cds_os_date(lua: ArgoLua) -> None:
    script = (
        'local os = require("os")\nreturn {status = "Healthy", message = os.date("!%Y-%m-%dT%XZ") .. " " .. os.time()}'
    )
    assert lua.health(script, {})["message"] == "2025-03-14T15:09:26Z 1741964966"


def test_numbers_are_lua_numbers_and_empty_maps_stay_maps(lua: ArgoLua) -> None:
    """Argo CD's object conversion: an integer is a float64 Lua number (printed without a fraction) and an empty map
    the script did not touch comes back a map, not gopher-json's [] (cleanReturnedObj)."""
    source = {"kind": "CanaryRelease", "metadata": {"generation": 3, "labels": {}}, "spec": {"stepWeights": [10, 50]}}
    generation = "obj.metadata.generation"
    script = f"obj.metadata.annotations = {{n = tostring({generation} + 0.5) .. '/' .. {generation}}} return obj"
    changed = lua.action(script, source)
    assert changed["metadata"] == {"generation": 3, "labels": {}, "annotations": {"n": "3.5/3"}}
    assert changed["spec"] == {"stepWeights": [10, 50]}


@pytest.mark.parametrize("doc", ["docs/gitops.md", "tests/integration/packaging/argocd_lua.py"])
def test_the_docs_name_the_gopher_lua_argolua_is_built_with(argolua: Path, doc: str) -> None:
    version = gopher_lua_version(argolua)
    pinned = (REPO / "e2e" / "toolchain" / "argolua" / "go.mod").read_text()
    assert f"github.com/yuin/gopher-lua {version}\n" in pinned
    assert f"gopher-lua {version}" in (REPO / doc).read_text()


def test_the_argocd_cm_patch_is_generated_from_the_scripts() -> None:
    fresh = subprocess.run(
        [sys.executable, str(REPO / "argocd" / "render.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    committed = (REPO / "argocd" / "argocd-cm-patch.yaml").read_text()
    assert committed == fresh, "argocd/argocd-cm-patch.yaml is out of date: run python argocd/render.py"


def test_the_argocd_cm_patch_carries_the_scripts_verbatim() -> None:
    data = yaml.safe_load((REPO / "argocd" / "argocd-cm-patch.yaml").read_text())["data"]
    assert data["resource.customizations.health.graygate.dev_CanaryRelease"] == (HERE / "health.lua").read_text()
    actions = yaml.safe_load(data["resource.customizations.actions.graygate.dev_CanaryRelease"])
    assert actions["discovery.lua"] == (ACTIONS / "discovery.lua").read_text()
    scripts = {definition["name"]: definition["action.lua"] for definition in actions["definitions"]}
    assert scripts == {name: (ACTIONS / name / "action.lua").read_text() for name in ACTION_NAMES}


def test_the_docs_show_the_ignore_rules_the_patch_sets() -> None:
    data = yaml.safe_load((REPO / "argocd" / "argocd-cm-patch.yaml").read_text())["data"]
    docs = (REPO / "docs" / "gitops.md").read_text()
    for key in (
        "resource.customizations.ignoreResourceUpdates.graygate.dev_CanaryRelease",
        "resource.customizations.ignoreResourceUpdates.networking.istio.io_VirtualService",
    ):
        rules = yaml.safe_load(data[key])
        for expression in rules.get("jqPathExpressions", []) + rules.get("jsonPointers", []):
            assert expression in docs, f"docs/gitops.md does not show {expression}"
