-- GET one invitation by id, a random row of the resend pool each time.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
math.randomseed(os.time() + (thread_index or 0))

function request()
  local index = math.random(0, common.pool - 1)
  return wrk.format("GET", string.format("/tenant/%d/admin/user/invitation/%d", common.tenant_of(index), common.pool_base + index))
end
