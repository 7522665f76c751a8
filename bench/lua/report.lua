-- Appended to every scenario: one machine-readable line when wrk is done.
local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

-- What the threads counted (scenarios.lua, `data.count_errors`): the first
-- non-2xx answer and the number of each non-2xx status, as JSON.
local function error_report()
  local sample, counts = "null", {}
  for _, thread in ipairs(bench_threads or {}) do
    local first = thread:get("first_error")
    if first and sample == "null" then sample = json_string(first) end
    for status, n in pairs(thread:get("error_counts") or {}) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  table.sort(parts)
  return sample, "{" .. table.concat(parts, ",") .. "}"
end

done = function(summary, latency, requests)
  local e = summary.errors
  local sample, statuses = error_report()
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"error_sample":%s,"error_statuses":%s}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    sample, statuses))
end
