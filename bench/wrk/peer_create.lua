-- POST invite-member as the admin: a new address every request, spread over the small organizations, as create.lua.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "peer_common.lua")
local run = os.getenv("BENCH_RUN") or "run"
wrk.headers["Cookie"] = common.cookie("BENCH_COOKIE")
wrk.headers["Origin"] = common.origin
wrk.headers["Content-Type"] = "application/json"

function request()
  local index = common.next_index()
  local body = string.format('{"email":"%s-%d@bench.test","role":"member","organizationId":"org-%d"}', run, index, common.tenant_of(index))
  return wrk.format("POST", common.base .. "/invite-member", nil, body)
end
