-- Argo CD health of a graygate CanaryRelease, read from what the operator wrote in .status.
--
-- A status computed from an older spec says nothing about the current one, so until the operator has observed
-- the current generation the release is Progressing. Then the phase decides: Succeeded is Healthy, Paused is
-- Suspended (a human is expected), Failed, Aborted and Invalid are Degraded, Pending, Progressing and Promoting
-- (the primary Deployment rolling out the released revision) are Progressing, or Degraded when the Stalled
-- condition says the operator cannot go on (a route it cannot manage, a run past its progressDeadline).
-- A Succeeded release whose traffic drifted (TrafficInSync False) is Progressing while graygate puts it back.
-- A new revision of a followed workload changes the Deployment, not the release, so its generation stays: the
-- phase alone (Failed, then Pending and Progressing again) carries the news, and conditions are rewritten each tick.
-- Runs without Lua's string and math libraries, as Argo CD runs resource customizations.

local hs = {}

local function fresh(condition, generation)
  return condition.observedGeneration == nil or condition.observedGeneration >= generation
end

local function condition(status, type, generation)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type and fresh(c, generation) then
      return c
    end
  end
  return nil
end

local function said(message, otherwise)
  if message ~= nil and message ~= "" then
    return message
  end
  return otherwise
end

local generation = 1
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status

if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the release"
  return hs
end

if status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation ..
    " (the status is from generation " .. status.observedGeneration .. ")"
  return hs
end

local phase = status.phase
local message = status.message

if phase == "Succeeded" then
  local sync = condition(status, "TrafficInSync", generation)
  if sync ~= nil and sync.status == "False" then
    hs.status = "Progressing"
    hs.message = said(sync.message, "traffic drifted from the release's weights; graygate is setting them again")
    return hs
  end
  hs.status = "Healthy"
  hs.message = said(message, "released")
  return hs
end

if phase == "Pending" or phase == "Progressing" or phase == "Promoting" then
  local stalled = condition(status, "Stalled", generation)
  if stalled ~= nil and stalled.status == "True" then
    hs.status = "Degraded"
    hs.message = said(stalled.message, said(message, "the release cannot make progress"))
    return hs
  end
  hs.status = "Progressing"
  local doing = phase
  if phase == "Promoting" then
    doing = "the primary Deployment is rolling out revision " .. tostring(status.revision) ..
      "; the canary carries all traffic meanwhile"
  end
  hs.message = said(message, doing)
  return hs
end

if phase == "Paused" then
  local why = ""
  if status.pauseReason ~= nil then
    why = " (" .. status.pauseReason .. ")"
  end
  -- Paused past progressDeadline is Degraded, not Suspended: the built-in health of a Deployment and of an Argo
  -- Rollout both turn Degraded on ProgressDeadlineExceeded, so users' on-health-degraded notifications fire for a
  -- stuck run whatever carries it. A pause a human planned for (a pause step, a manual pause, inconclusive
  -- analyses asking for a decision) is Suspended. Either way resume and abort stay offered: they read the phase.
  if status.pauseReason == "ProgressDeadline" then
    hs.status = "Degraded"
  else
    hs.status = "Suspended"
  end
  hs.message = said(message, "paused") .. why
  return hs
end

if phase == "Failed" or phase == "Aborted" or phase == "Invalid" then
  hs.status = "Degraded"
  hs.message = said(message, phase)
  return hs
end

hs.status = "Unknown"
hs.message = "unknown phase " .. tostring(phase)
return hs
