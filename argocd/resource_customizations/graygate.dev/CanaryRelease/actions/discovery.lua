-- The graygate commands Argo CD offers on a CanaryRelease, each enabled only where the operator would act on it.
--
-- An action sets the graygate.dev/command annotation to `<action>/<UTC time>`; the operator handles each distinct
-- value once and records it in status.lastCommand. While a command is waiting for the operator, or the operator
-- has not observed the current spec yet, only abort stays enabled: a second command would replace the first one
-- before it is handled, and a command aimed at a phase the release is about to leave could land in the wrong one.
-- The operator still ignores (and records) a command that no longer fits when it gets to it.

local enabled = {
  ["promote"] = { Progressing = true, Paused = true },
  ["promote-full"] = { Progressing = true, Paused = true },
  ["pause"] = { Progressing = true },
  ["resume"] = { Paused = true },
  ["abort"] = { Pending = true, Progressing = true, Paused = true },
  ["retry"] = { Failed = true, Aborted = true },
}
local presentation = {
  ["promote"] = { "Promote one step", "fa fa-fw fa-forward" },
  ["promote-full"] = { "Promote fully", "fa fa-fw fa-fast-forward" },
  ["pause"] = { "Pause", "fa fa-fw fa-pause" },
  ["resume"] = { "Resume", "fa fa-fw fa-play" },
  ["abort"] = { "Abort", "fa fa-fw fa-stop" },
  ["retry"] = { "Retry", "fa fa-fw fa-redo-alt" },
}

local status = obj.status
local phase = nil
local settled = false
if status ~= nil and status.observedGeneration ~= nil then
  phase = status.phase
  local generation = 1
  if obj.metadata.generation ~= nil then
    generation = obj.metadata.generation
  end
  settled = status.observedGeneration >= generation
end

local command = nil
if obj.metadata.annotations ~= nil then
  command = obj.metadata.annotations["graygate.dev/command"]
end
local handled = nil
if status ~= nil and status.lastCommand ~= nil then
  handled = status.lastCommand.value
end
local waiting = command ~= nil and command ~= "" and command ~= handled

local actions = {}
for name, phases in pairs(enabled) do
  local allowed = phase ~= nil and phases[phase] == true
  if name ~= "abort" and (waiting or not settled) then
    allowed = false
  end
  if name == "abort" and phase ~= nil and not settled then
    -- The operator starts the changed spec over from Pending, where abort is always accepted.
    allowed = true
  end
  actions[name] = {
    ["disabled"] = not allowed,
    ["displayName"] = presentation[name][1],
    ["iconClass"] = presentation[name][2],
  }
end
return actions
