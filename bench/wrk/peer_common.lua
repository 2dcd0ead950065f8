-- Shared by the peer_*.lua scripts (the better-auth peer, bench/peers/better-auth): common.lua's numbering and result
-- line, with better-auth's session cookie in place of the bearer. BENCH_COOKIE is the admin's cookie and
-- BENCH_INVITEE_COOKIE the invitee's, as `node server.mjs seed` prints them ("better-auth.session_token=...").
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

wrk.headers["Authorization"] = nil -- better-auth without its bearer plugin ignores it; a shared BENCH_TOKEN would only add bytes

-- better-auth refuses a POST that carries a cookie and no trusted Origin (CSRF); a browser sends its page's origin, here
-- the server's own (its baseURL), from BENCH_ORIGIN or the URL wrk was given.
common.origin = os.getenv("BENCH_ORIGIN")
if not common.origin or common.origin == "" then
  common.origin = string.format("%s://%s%s", wrk.scheme or "http", wrk.host or "127.0.0.1", wrk.port and (":" .. wrk.port) or "")
end

function common.cookie(name)
  local value = os.getenv(name)
  if not value or value == "" then
    error(name .. " is not set: the cookie `node server.mjs seed` printed")
  end
  return value
end

-- better-auth's organization plugin answers under its base path.
common.base = os.getenv("BENCH_PEER_BASE") or "/api/auth/organization"

return common
