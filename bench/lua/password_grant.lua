-- POST /token, OAuth 2.0 password grant with a JSON body and the right
-- password, over and over: one Argon2id verification and one new session
-- per request. Failed logins are throttled, successful ones are not, so one
-- account serves every connection. A static request.
--
-- Environment: BENCH_LOGIN_EMAIL, BENCH_LOGIN_PASSWORD.

local dir = os.getenv("BENCH_LUA_DIR")
  or debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local report = require("report")

local function json_string(s)
  local escaped = tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. escaped .. '"'
end

local email = assert(os.getenv("BENCH_LOGIN_EMAIL"), "BENCH_LOGIN_EMAIL is not set")
local password = assert(os.getenv("BENCH_LOGIN_PASSWORD"), "BENCH_LOGIN_PASSWORD is not set")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"grant_type":"password","username":' .. json_string(email)
  .. ',"password":' .. json_string(password) .. "}"

function done(summary, latency, requests)
  report.print(summary, latency)
end
