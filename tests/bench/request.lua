-- wrk script for tests/bench/run: builds one request from the environment,
-- counts every response that is not 2xx, and prints one machine-readable line.
--
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    request body; sent as application/json when set
--   BENCH_TOKEN   access token; sent as "Authorization: Bearer <token>" when set
--   BENCH_EXPECT  a status that counts as expected instead of 2xx (e.g. 429 for
--                 the stream start's limit path)
--   BENCH_REQUESTS several requests to cycle through, one a line: "PATH [BODY]";
--                 in BODY, {n:LO:HI} becomes a number from LO to HI that changes
--                 from request to request. Unset: every request is the same one,
--                 built once (wrk then calls no Lua per request).

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local expect = tonumber(os.getenv("BENCH_EXPECT") or "")

wrk.method = method
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local reqs = {}
for line in (os.getenv("BENCH_REQUESTS") or ""):gmatch("[^\n]+") do
  local path, rbody = line:match("^(%S+)%s*(.*)$")
  if path then
    table.insert(reqs, {path = path, body = rbody})
    if rbody ~= "" then wrk.headers["Content-Type"] = "application/json" end
  end
end

if #reqs > 0 then
  local counter = 0
  local function vary(lo, hi)
    lo, hi = tonumber(lo), tonumber(hi)
    return tostring(lo + (counter * 7919) % (hi - lo + 1))
  end
  function request()
    counter = counter + 1
    local r = reqs[counter % #reqs + 1]
    local b = r.body:gsub("{n:(%d+):(%d+)}", vary)
    return wrk.format(nil, r.path, nil, b ~= "" and b or nil)
  end
end

-- Each wrk thread runs its own Lua state; setup() keeps a handle on each so
-- done() can add up their counters.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  first_bad = 0
end

function response(status, headers, resp_body)
  local ok
  if expect then ok = status == expect else ok = status >= 200 and status <= 299 end
  if not ok then
    non2xx = non2xx + 1
    if first_bad == 0 then
      first_bad = status
    end
  end
end

function done(summary, latency, requests)
  local bad, status = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    if status == 0 then
      status = t:get("first_bad")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d non2xx=%d first_bad_status=%d " ..
    "p50_us=%d p99_us=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    summary.requests, summary.duration, bad, status,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout))
end
