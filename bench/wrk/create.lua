-- POST .../invitation: a new address every request, spread over the small tenants.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local run = os.getenv("BENCH_RUN") or "run"
wrk.headers["Content-Type"] = "application/json"

function request()
  local index = common.next_index()
  local body = string.format('{"email":"%s-%d@bench.test","role":"Member"}', run, index)
  return wrk.format("POST", string.format("/tenant/%d/admin/user/invitation", common.tenant_of(index)), nil, body)
end
