-- POST invite-member with resend: true, as the admin: every request on its own row of the resend pool (rk@bench.test,
-- pending in org-(1 + k % tenants)), as resend.lua. better-auth has no resend endpoint: this is its way to send again.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "peer_common.lua")
wrk.headers["Cookie"] = common.cookie("BENCH_COOKIE")
wrk.headers["Origin"] = common.origin
wrk.headers["Content-Type"] = "application/json"

function request()
  local index = common.next_index()
  local body = string.format('{"email":"r%d@bench.test","role":"member","organizationId":"org-%d","resend":true}', index, common.tenant_of(index))
  return wrk.format("POST", common.base .. "/invite-member", nil, body)
end
