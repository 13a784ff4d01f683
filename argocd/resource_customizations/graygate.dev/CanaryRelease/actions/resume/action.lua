-- resume: let a Paused release go on.
-- Sets graygate.dev/command to a value never used before ("resume/<UTC time>"): the operator handles each
-- distinct value once, so the same action can be given again a second later.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["graygate.dev/command"] = "resume/" .. os.date("!%Y-%m-%dT%XZ")
return obj
