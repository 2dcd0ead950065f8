-- Shared by the scenario scripts (loaded with dofile): thread numbering, the bearer, the id -> tenant mapping of the
-- seeded pools, and one parseable result line. Settings come from the environment, set by the benchmark driver.
local common = {}
local threads = {}

common.tenants = tonumber(os.getenv("BENCH_TENANTS") or "1")
common.first = tonumber(os.getenv("BENCH_FIRST") or "0")      -- the first index of this run's slice of a pool
common.pool = tonumber(os.getenv("BENCH_POOL") or "0")        -- how many pool rows the run may use
common.pool_base = tonumber(os.getenv("BENCH_POOL_BASE") or "0") -- the id of the pool's row 0
common.thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- The k-th request of this thread gets pool index first + thread_index + k * thread_count: no two requests share a row.
local sent = 0
function common.next_index()
  local index = common.first + (thread_index or 0) + sent * common.thread_count
  sent = sent + 1
  return index
end

-- Row k of every pool in the many small tenants belongs to tenant 1 + k % tenants (bench/Bench/Seed.cs).
function common.tenant_of(index)
  return 1 + index % common.tenants
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

return common
