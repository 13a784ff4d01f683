"""A Lua 5.1 state shaped like the one Argo CD runs resource customizations in, so health.lua and the actions are
tested as Argo CD will run them, not as a friendlier Lua would.

What Argo CD gives a script configured in argocd-cm (util/lua/lua.go, oslib_safe.go in argoproj/argo-cd):
gopher-lua (Lua 5.1) with only the base, table and package libraries and a safe `os` holding `time` and `date`
(also through `require("os")`); no `string` library (so no `("x"):sub()` either), no `math`, `io` or `debug`. The
resource is the global `obj`, decoded from JSON (integers are Lua numbers, null is nil). A health script returns
`{status, message}`; a status outside Argo CD's six becomes Unknown. Discovery returns `{name = {disabled, …}}`.
An action returns the changed object (old-style) and Argo CD patches the difference.

One deliberate difference: the clock. Argo CD reads the real time; here `now` is a parameter, so an action's
output is exact. Local time is UTC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lupa import lua51

HEALTH_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})

# Argo CD's strftime (oslib_safe.go) knows these conversions; anything else is printed as written.
_STRFTIME = {
    "A": "%A",
    "B": "%B",
    "b": "%b",
    "d": "%d",
    "F": "%Y-%m-%d",
    "H": "%H",
    "I": "%I",
    "M": "%M",
    "m": "%m",
    "p": "%p",
    "S": "%S",
    "X": "%H:%M:%S",
    "Y": "%Y",
    "y": "%y",
    "z": "+0000",
    "Z": "UTC",
}

_SANDBOX = """
local safe_os = ...
-- Argo CD opens no string library: strings have no methods.
getmetatable("").__index = nil
local env = {
  assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs, next = next, pairs = pairs,
  pcall = pcall, print = print, rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
  setmetatable = setmetatable, tonumber = tonumber, tostring = tostring, type = type, unpack = unpack,
  xpcall = xpcall, table = table, os = safe_os, _VERSION = _VERSION,
}
env.require = function(name)
  if name == "os" then return safe_os end
  error("module '" .. tostring(name) .. "' not found")
end
env._G = env
return function(source, chunkname, obj)
  local chunk, problem = loadstring(source, chunkname)
  if chunk == nil then error(problem, 0) end
  env.obj = obj
  setfenv(chunk, env)
  return chunk()
end
"""


class LuaScriptError(AssertionError):
    """The script failed to load or raised an error."""


@dataclass(frozen=True)
class ArgoLua:
    """Runs one script per call in a fresh state; `now` is what the script's clock says."""

    now: datetime

    def health(self, script: str, obj: dict[str, Any]) -> dict[str, str]:
        result = self._run(script, "health.lua", obj)
        if not _is_table(result):
            raise LuaScriptError(f"expect table output from Lua script, not {type(result).__name__}")
        status = _from_lua(result, None)
        assert isinstance(status, dict)
        code = status.get("status", "")
        if code not in HEALTH_STATUSES:
            return {"status": "Unknown", "message": "Lua returned an invalid health status"}
        return {"status": code, "message": status.get("message", "")}

    def discovery(self, script: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
        result = self._run(script, "discovery.lua", obj)
        if not _is_table(result):
            raise LuaScriptError(f"expect table output from Lua script, not {type(result).__name__}")
        actions = _from_lua(result, {})
        assert isinstance(actions, dict), "discovery must return a table keyed by action name"
        found = []
        for name, value in actions.items():
            value = value if isinstance(value, dict) else {}
            disabled = value.get("disabled")
            found.append(
                {
                    "name": name,
                    "disabled": disabled if isinstance(disabled, bool) else False,
                    "displayName": value.get("displayName", ""),
                    "iconClass": value.get("iconClass", ""),
                }
            )
        return sorted(found, key=lambda action: action["name"])

    def action(self, script: str, obj: dict[str, Any]) -> dict[str, Any]:
        result = self._run(script, "action.lua", obj)
        if not _is_table(result):
            raise LuaScriptError(f"expect table output from Lua script, not {type(result).__name__}")
        changed = _from_lua(result, obj)
        assert isinstance(changed, dict), "graygate's actions return the changed object (old-style actions)"
        return changed

    def _run(self, script: str, name: str, obj: dict[str, Any]) -> Any:
        lua = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
        runner = lua.execute(_SANDBOX, self._safe_os(lua))
        try:
            return runner(script, name, _to_lua(lua, obj))
        except lua51.LuaError as error:
            raise LuaScriptError(f"{name} failed: {error}") from error

    def _safe_os(self, lua: Any) -> Any:
        now = self.now

        def date(fmt: str | None = None, when: float | None = None) -> Any:
            moment = now if when is None else datetime.fromtimestamp(when, UTC)
            text = "%c" if fmt is None else fmt
            text = text.removeprefix("!")  # UTC; local time is UTC here too
            if text.startswith("*t"):
                fields = {"year": moment.year, "month": moment.month, "day": moment.day, "hour": moment.hour}
                fields |= {"min": moment.minute, "sec": moment.second, "wday": moment.isoweekday() % 7 + 1}
                return lua.table_from(fields | {"yday": 0, "isdst": False})
            return _strftime(moment, text)

        def time(fields: Any = None) -> int:
            if fields is None:
                return calendar.timegm(now.utctimetuple())

            def field(name: str, default: int) -> int:
                value = fields[name]
                return default if value is None else int(value)

            parts = (field("year", -1), field("month", -1), field("day", -1), field("hour", 12), field("min", 0))
            return calendar.timegm((*parts, field("sec", 0), 0, 0, 0))

        return lua.table_from({"date": date, "time": time})


def _strftime(moment: datetime, fmt: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(fmt):
        char = fmt[index]
        if char == "%" and index + 1 < len(fmt):
            flag = fmt[index + 1]
            if flag == "%":
                out.append("%")
            elif flag == "c":
                out.append(moment.strftime("%d %b %y %H:%M UTC"))
            elif flag == "w":
                out.append(str(moment.isoweekday() % 7))
            elif flag in _STRFTIME:
                out.append(moment.strftime(_STRFTIME[flag]))
            else:
                out.append("%" + flag)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _is_table(value: Any) -> bool:
    return bool(lua51.lua_type(value) == "table")


def _to_lua(lua: Any, value: Any) -> Any:
    if isinstance(value, dict):
        table = lua.table()
        for key, item in value.items():
            if item is not None:
                table[key] = _to_lua(lua, item)
        return table
    if isinstance(value, list):
        table = lua.table()
        for position, item in enumerate(value, start=1):
            table[position] = _to_lua(lua, item)
        return table
    return value


def _from_lua(value: Any, original: Any) -> Any:
    """A Lua value as JSON would carry it. An empty table is `{}` or `[]` as the original had it (Argo CD's
    cleanReturnedObj), since Lua cannot tell the two apart."""
    if not _is_table(value):
        return value
    keys = list(value.keys())
    if not keys:
        return [] if isinstance(original, list) else {}
    if all(isinstance(key, int) for key in keys) and sorted(keys) == list(range(1, len(keys) + 1)):
        items = original if isinstance(original, list) else []
        return [_from_lua(value[i], items[i - 1] if i <= len(items) else None) for i in range(1, len(keys) + 1)]
    fields = original if isinstance(original, dict) else {}
    return {str(key): _from_lua(value[key], fields.get(str(key))) for key in keys}
