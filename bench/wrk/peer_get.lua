-- GET get-invitation?id=: better-auth answers it to the invitee alone (an admin gets 403), so this is the invitee's session
-- reading g-n, its invitation to org-n, a random organization each time.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "peer_common.lua")
wrk.headers["Cookie"] = common.cookie("BENCH_INVITEE_COOKIE")

-- Seeded in init, where thread_index is set (while the script loads it is not, and every thread would draw the same ids).
function init(args)
  math.randomseed(os.time() * 16 + (thread_index or 0))
end

function request()
  return wrk.format("GET", string.format("%s/get-invitation?id=g-%d", common.base, math.random(1, common.tenants)))
end
