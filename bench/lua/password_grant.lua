-- POST /token, OAuth 2.0 password grant with a JSON body and the right
-- password, over and over: one Argon2id verification and one new session
-- per request. Logins of one account take turns (so that guesses sent at
-- once cannot all pass the throttle), so each request names the next of
-- several accounts, as real traffic does; with one account the figure
-- would measure that turn-taking, not the hash pool.
--
-- Environment: BENCH_LOGIN_EMAILS, a file with one email per line;
-- BENCH_LOGIN_PASSWORD, the password of every one of them.

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

local emails_file = assert(os.getenv("BENCH_LOGIN_EMAILS"), "BENCH_LOGIN_EMAILS is not set")
local password = assert(os.getenv("BENCH_LOGIN_PASSWORD"), "BENCH_LOGIN_PASSWORD is not set")

-- Every thread builds the request bodies once, then cycles through them,
-- starting at a different place (wrk.thread:set in setup, below).
local bodies = {}
for email in io.lines(emails_file) do
  if email ~= "" then
    bodies[#bodies + 1] = '{"grant_type":"password","username":' .. json_string(email)
      .. ',"password":' .. json_string(password) .. "}"
  end
end
assert(#bodies > 0, "BENCH_LOGIN_EMAILS names no account")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

local next_body
function init(args)
  next_body = (first or 0) * 7
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function done(summary, latency, requests)
  report.print(summary, latency)
end
