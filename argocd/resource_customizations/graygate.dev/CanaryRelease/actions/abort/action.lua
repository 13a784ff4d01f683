-- abort: send all traffic back to the stable destination and stop (Aborted).
-- Sets graygate.dev/command to a value never used before ("abort/<UTC time>"): the operator handles each
-- distinct value once, so the same action can be given again a second later.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["graygate.dev/command"] = "abort/" .. os.date("!%Y-%m-%dT%XZ")
return obj
