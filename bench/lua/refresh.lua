-- POST /token, refresh grant, where every connection always presents the
-- refresh token it has just received: a chain of rotations per connection,
-- which is what a well-behaved client does.
--
-- wrk runs one Lua state per thread; run it with as many threads as
-- connections (-t N -c N) so each state drives exactly one connection and
-- its `token` is that connection's current refresh token. Each thread
-- starts from its own token: BENCH_REFRESH_TOKENS names a file of at least N
-- refresh tokens, one a line (of N separate logins), and setup() hands
-- line i to thread i.
--
-- A 200 whose refresh_token cannot be parsed, or equals the one presented
-- (no rotation), and any non-200 are counted and reported in `extra`.

local dir = os.getenv("BENCH_LUA_DIR")
  or debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

-- Main state only: setup() runs there once per thread, before they start.
local threads = {}
local tokens = nil

local function read_tokens()
  local path = assert(os.getenv("BENCH_REFRESH_TOKENS"), "BENCH_REFRESH_TOKENS is not set")
  local list = {}
  for line in assert(io.open(path, "r")):lines() do
    if line ~= "" then list[#list + 1] = line end
  end
  return list
end

function setup(thread)
  tokens = tokens or read_tokens()
  local index = #threads + 1
  local token = tokens[index]
  if not token then
    error(string.format("thread %d has no refresh token: %s holds only %d",
      index, os.getenv("BENCH_REFRESH_TOKENS"), #tokens))
  end
  thread:set("token", token)
  threads[index] = thread
end

-- Thread states: `token` was set by setup(); these are the thread's counters.
function init(args)
  rotated, failed, unchanged, unparsed = 0, 0, 0, 0
  last_failure = ""
end

function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
    last_failure = status .. " " .. body:sub(1, 200)
    return
  end
  local next_token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if not next_token then
    unparsed = unparsed + 1
    last_failure = "200 without a refresh_token: " .. body:sub(1, 200)
  elseif next_token == token then
    unchanged = unchanged + 1
  else
    rotated = rotated + 1
    token = next_token
  end
end

function done(summary, latency, requests)
  local extra = { threads = #threads, rotated = 0, failed = 0, unchanged = 0, unparsed = 0 }
  for _, thread in ipairs(threads) do
    for _, counter in ipairs({ "rotated", "failed", "unchanged", "unparsed" }) do
      extra[counter] = extra[counter] + (thread:get(counter) or 0)
    end
    local failure = thread:get("last_failure")
    if failure and failure ~= "" then extra.last_failure = failure end
  end
  report.print(summary, latency, extra)
end
