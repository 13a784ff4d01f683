"""Argo CD's health check and actions for CanaryRelease, run case by case from health_test.yaml and action_test.yaml
(laid out like Argo CD's own resource_customizations) under a real Lua 5.1 shaped like Argo CD's, plus the checks
that keep the test data honest: every status parses with graygate's own model, every file is used."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from argocd_lua import ArgoLua, LuaScriptError
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


@pytest.fixture
def lua() -> ArgoLua:
    return ArgoLua(now=NOW)


@pytest.mark.parametrize("case", HEALTH_CASES, ids=[Path(c["inputPath"]).stem for c in HEALTH_CASES])
def test_health(lua: ArgoLua, case: dict[str, Any]) -> None:
    health = lua.health((HERE / "health.lua").read_text(), load(HERE / case["inputPath"]))
    assert health == case["healthStatus"]


@pytest.mark.parametrize("case", DISCOVERY_CASES, ids=[Path(c["inputPath"]).stem for c in DISCOVERY_CASES])
def test_discovery(lua: ArgoLua, case: dict[str, Any]) -> None:
    found = lua.discovery((ACTIONS / "discovery.lua").read_text(), load(ACTIONS / case["inputPath"]))
    expected = sorted(case["result"], key=lambda action: action["name"])
    assert found == expected


@pytest.mark.parametrize("case", ACTION_CASES, ids=[f"{c['action']}-{Path(c['inputPath']).stem}" for c in ACTION_CASES])
def test_action(lua: ArgoLua, case: dict[str, Any]) -> None:
    source = load(ACTIONS / case["inputPath"])
    changed = lua.action((ACTIONS / case["action"] / "action.lua").read_text(), source)
    assert changed == load(ACTIONS / case["expectedOutputPath"])


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_each_action_sets_a_command_the_operator_parses_and_has_not_seen(lua: ArgoLua, action: str) -> None:
    from graygate.api.commands import parse_command

    source = load(ACTIONS / "testdata" / "command_handled.yaml")
    changed = lua.action((ACTIONS / action / "action.lua").read_text(), source)
    value = changed["metadata"]["annotations"]["graygate.dev/command"]
    command = parse_command(value)
    assert command.action.value == action
    assert command.id == "2025-03-14T15:09:26Z"
    assert value != source["status"]["lastCommand"]["value"], "a value already handled would be ignored"
    assert changed["metadata"]["annotations"]["team"] == "shop", "other annotations stay"
    assert {k: v for k, v in changed.items() if k != "metadata"} == {k: v for k, v in source.items() if k != "metadata"}


def test_discovery_offers_exactly_the_actions_that_exist(lua: ArgoLua) -> None:
    found = lua.discovery((ACTIONS / "discovery.lua").read_text(), load(ACTIONS / "testdata" / "progressing.yaml"))
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
        ('return {status = string.upper("healthy")}', "string"),
        ('return {status = ("Healthy"):lower()}', "attempt to index a string value"),
        ("return {status = tostring(math.floor(1))}", "math"),
        ('local io = require("io") return {}', "module 'io' not found"),
    ],
    ids=["string-library", "string-methods", "math", "require-io"],
)
def test_the_lua_state_is_as_bare_as_argo_cds(lua: ArgoLua, script: str, problem: str) -> None:
    with pytest.raises(LuaScriptError, match=problem):
        lua.health(script, {"metadata": {"name": "x"}})


def test_an_unknown_health_status_reads_as_unknown(lua: ArgoLua) -> None:
    health = lua.health('return {status = "Fine", message = "all good"}', {})
    assert health == {"status": "Unknown", "message": "Lua returned an invalid health status"}


def test_the_clock_is_argo_cds_os_date(lua: ArgoLua) -> None:
    script = 'return {status = "Healthy", message = os.date("!%Y-%m-%dT%XZ") .. " " .. os.time()}'
    assert lua.health(script, {})["message"] == "2025-03-14T15:09:26Z 1741964966"


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
