-- GET of the URL given to wrk, with an optional credential: the /healthz,
-- GET /me and GET /auth/verify scenarios. A static request, so wrk builds it
-- once and calls no Lua per request.
--
-- Environment: BENCH_AUTHORIZATION, the whole Authorization header value
-- ("Bearer eyJ..." or "Bearer pat_..."); none when empty. BENCH_PAUSE_MS,
-- when set, makes each connection wait that long before each request, for a
-- light, steady load instead of as many requests as the server can take.

local dir = os.getenv("BENCH_LUA_DIR")
  or debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local report = require("report")

local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "")
if pause_ms and pause_ms > 0 then
  function delay()
    return pause_ms
  end
end

function done(summary, latency, requests)
  report.print(summary, latency)
end
