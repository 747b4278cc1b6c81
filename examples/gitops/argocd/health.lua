-- Argo CD health check for ragdeploy.io/Rollout. It reads the
-- kstatus conditions the controller writes (Ready, Reconciling, Stalled)
-- at the generation they describe.
local hs = {}
if obj.status == nil or obj.status.observedGeneration == nil or obj.metadata.generation ~= obj.status.observedGeneration then
  hs.status = "Progressing"
  hs.message = "Waiting for the ragdeploy controller to observe the rollout"
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local stalled, ready, reconciling = conditions["Stalled"], conditions["Ready"], conditions["Reconciling"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. (stalled.message or "")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if reconciling ~= nil and reconciling.status == "False" and reconciling.reason == "AwaitingPromotion" then
  hs.status = "Suspended"
  hs.message = reconciling.message or "waiting for ragdeploy rollout promote"
  return hs
end
hs.status = "Progressing"
if reconciling ~= nil and reconciling.message ~= nil and reconciling.message ~= "" then
  hs.message = reconciling.message
else
  hs.message = obj.status.message or ""
end
return hs
