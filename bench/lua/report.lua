-- Shared by every scenario script: prints wrk's results as one JSON line.
--
-- wrk calls done(summary, latency, requests) once, in the main Lua state,
-- after every thread has stopped. Latencies are in microseconds. wrk counts
-- a response with status >= 400 as a "status" error; that is the non-2xx
-- figure (no scenario expects a 3xx). `extra` is a table of numbers or
-- strings the scenario adds (the refresh scenario's own counters).

local report = {}

local function quote(s)
  local escaped = tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. escaped .. '"'
end

local function value(v)
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then
      return string.format("%d", v)
    end
    return string.format("%.3f", v)
  end
  return quote(v)
end

function report.print(summary, latency, extra)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local parts = {
    '"requests":' .. value(summary.requests),
    '"duration_s":' .. string.format("%.3f", seconds),
    '"rps":' .. string.format("%.1f", summary.requests / seconds),
    '"bytes":' .. value(summary.bytes),
    '"latency_us":{' .. table.concat({
      '"min":' .. value(latency.min),
      '"mean":' .. string.format("%.1f", latency.mean),
      '"p50":' .. value(latency:percentile(50.0)),
      '"p90":' .. value(latency:percentile(90.0)),
      '"p99":' .. value(latency:percentile(99.0)),
      '"max":' .. value(latency.max),
    }, ",") .. "}",
    '"non_2xx":' .. value(e.status),
    '"socket_errors":{' .. table.concat({
      '"connect":' .. value(e.connect),
      '"read":' .. value(e.read),
      '"write":' .. value(e.write),
      '"timeout":' .. value(e.timeout),
    }, ",") .. "}",
  }
  local keys = {}
  for k in pairs(extra or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local fields = {}
  for _, k in ipairs(keys) do fields[#fields + 1] = quote(k) .. ":" .. value(extra[k]) end
  parts[#parts + 1] = '"extra":{' .. table.concat(fields, ",") .. "}"
  -- bench/run picks this line out of wrk's output by its prefix.
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end

return report
