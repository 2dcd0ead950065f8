-- GET list-invitations of org-thousand (1,000 invitations) as the admin. It takes no page size or cursor: better-auth
-- returns the first 100 rows the database gives (its adapters' default findMany limit), unordered.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "peer_common.lua")
wrk.headers["Cookie"] = common.cookie("BENCH_COOKIE")
local path = string.format("%s/list-invitations?organizationId=%s", common.base, os.getenv("BENCH_LIST_ORGANIZATION") or "org-thousand")

function request()
  return wrk.format("GET", path)
end
