-- POST /invitation/accept with the link's token, no bearer: every request accepts its own invitation of the accept pool,
-- whose tokens are "bench" and the row index in 38 digits (the seed stores their SHA-256, as the service does).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
wrk.headers["Content-Type"] = "application/json"

function request()
  local index = common.next_index()
  return wrk.format("POST", "/invitation/accept", nil, string.format('{"token":"bench%038d"}', index))
end
