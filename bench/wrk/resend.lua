-- PUT .../invitation/resend?id=: every request on its own invitation, whose cooldown passed (seeded 2 hours ago).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function request()
  local index = common.next_index()
  return wrk.format("PUT", string.format("/tenant/%d/admin/user/invitation/resend?id=%d", common.tenant_of(index), common.pool_base + index))
end
