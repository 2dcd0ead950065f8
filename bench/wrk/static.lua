-- One fixed GET (BENCH_PATH): the empty endpoint and the list pages.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local path = os.getenv("BENCH_PATH")

function request()
  return wrk.format("GET", path)
end
