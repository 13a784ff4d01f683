"""Argo CD's own Lua for the scripts in argocd/: the `argolua` program `make toolchain` builds (e2e/toolchain/argolua).

It runs a script the way Argo CD v3.6.2 runs a resource customization from argocd-cm (util/lua/lua.go in
argoproj/argo-cd): gopher-lua v1.1.2 (Lua 5.1), the Lua VM Argo CD embeds, at the version Argo CD's go.mod requires,
with only the package, base and table libraries and a safe `os` holding `time` and `date`, reached only through
`require("os")` (the global `os` is nil: Argo CD registers those functions under `table`); no `string` library (so
no `("x"):sub()` either), no `math`, `io` or `debug`. The resource is the global `obj`, converted as Argo CD
converts it (every number a Lua number, null is nil); a returned table goes back through gopher-json, with Argo
CD's repair of empty maps. Its results are Argo CD's types as JSON: a health status, the discovered actions, the
impacted resources of an action (an old-style action's object is one "patch").

One deliberate difference: the clock. Argo CD reads the real time; here `now` is a parameter (`-now`), so an
action's output is exact. Local time is UTC. The tests fail, never skip, when the program is not built.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

HEALTH_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})

Script = Path | str  # a file, or the source itself
Resource = Path | dict[str, Any]  # a YAML or JSON file, or the object itself


class LuaScriptError(AssertionError):
    """The script failed to load or raised an error (Argo CD's message)."""


class ArgoLuaMissingError(RuntimeError):
    """The argolua program is not built yet."""


def argolua_binary() -> Path:
    try:
        return Toolchain.locate().binary("argolua")
    except ToolchainMissingError as error:
        raise ArgoLuaMissingError(f"argolua is not built: run `make toolchain` ({error})") from error


def gopher_lua_version(binary: Path) -> str:
    """The gopher-lua version argolua was built with (its toolchain stamp: `gopher-lua vX.Y.Z <hash>`)."""
    return (binary.parent / ".argolua.stamp").read_text().split()[1]


@dataclass(frozen=True)
class ArgoLua:
    """Runs one script per call in a fresh process and Lua state; `now` is what the script's clock says.
    `scratch` holds the files made for scripts and objects given as values."""

    binary: Path
    now: datetime
    scratch: Path

    def health(self, script: Script, obj: Resource) -> dict[str, str] | None:
        """Argo CD's HealthStatus (status and message, "" when unset), or None when the script returns nil."""
        found = self._run("health", script, obj)
        if found is None:
            return None
        return {"status": found.get("status", ""), "message": found.get("message", "")}

    def discovery(self, script: Script, obj: Resource) -> list[dict[str, Any]]:
        """Argo CD's ResourceActions, sorted by name, with Go's zero values filled in."""
        return [with_action_defaults(action) for action in self._run("discovery", script, obj)]

    def action(self, script: Script, obj: Resource) -> dict[str, Any]:
        """The changed object of an old-style action (the one impacted resource, to be patched)."""
        impacted = self._run("action", script, obj)
        assert [one["operation"] for one in impacted] == ["patch"], "graygate's actions return the changed object"
        changed: dict[str, Any] = impacted[0]["resource"]
        return changed

    def _run(self, kind: str, script: Script, obj: Resource) -> Any:
        script_file = script if isinstance(script, Path) else self._write(f"{kind}.lua", script)
        obj_file = obj if isinstance(obj, Path) else self._write("object.json", json.dumps(obj))
        done = subprocess.run(
            [str(self.binary), "-now", self.now.isoformat(), kind, str(script_file), str(obj_file)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "TZ": "UTC"},
            check=False,
        )
        if done.returncode == 1:
            raise LuaScriptError(f"{script_file.name} failed: {done.stderr.strip()}")
        assert done.returncode == 0, f"argolua: exit {done.returncode}: {done.stderr}"
        return json.loads(done.stdout)

    def _write(self, name: str, text: str) -> Path:
        path = self.scratch / name
        path.write_text(text)
        return path


def with_action_defaults(action: dict[str, Any]) -> dict[str, Any]:
    """A ResourceAction as Go holds it: JSON omits a false `disabled` and empty strings."""
    return {
        "name": action["name"],
        "disabled": action.get("disabled", False),
        "displayName": action.get("displayName", ""),
        "iconClass": action.get("iconClass", ""),
    }
