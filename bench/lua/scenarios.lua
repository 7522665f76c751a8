-- Request builders for every scenario. The harness prepends a table `data`
-- (tokens, uuids, emails) and sets `scenario`; each wrk thread gets an `id`.
-- bench/compare.py drives EverShop and the service with the same builders, the
-- per-side differences being in `data` only.

local counter = 0
local run_id = data.run_id

-- Runs in the main state: number the threads, so generated emails stay unique,
-- and keep them, so that report.lua can read what each one saw.
bench_threads = {}
function setup(thread)
  thread_seq = (thread_seq or 0) + 1
  thread:set("thread_id", thread_seq)
  table.insert(bench_threads, thread)
end

-- With `data.xff_base` set, every request names a client address of its own
-- in X-Forwarded-For: EverShop's rate limiter, which cannot be switched off,
-- counts per address. Thread t sends base + t - 1, then every
-- `data.xff_stride`-th address after it, so no two requests of a run share one.
local xff_count = 0
local function client_address()
  xff_count = xff_count + 1
  local n = (data.xff_base + (thread_id or 1) - 1 + data.xff_stride * xff_count) % 4294967296
  return string.format("%d.%d.%d.%d", math.floor(n / 16777216) % 256,
    math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

-- With `data.count_errors` set, each thread counts the answers that are not a
-- 2xx by status and keeps the first one (report.lua adds them up). Off in
-- bench/run.py: a `response` function makes wrk hand every answer to Lua.
if data.count_errors then
  error_counts = {}
  response = function(status, headers, body)
    if status < 200 or status > 299 then
      error_counts[status] = (error_counts[status] or 0) + 1
      if not first_error then
        first_error = status .. " " .. string.sub(body or "", 1, 300)
      end
    end
  end
end

-- Runs in each thread once `thread_id` is set. With `data.thread_offset`, the
-- threads start their walks through the lists that far apart, so that they do
-- not send requests for the same row at the same moment.
function init(args)
  if data.thread_offset then counter = ((thread_id or 1) - 1) * data.thread_offset end
end

local function pick(list)
  counter = counter + 1
  return list[(counter % #list) + 1]
end

local function json_headers(token)
  local h = { ["Content-Type"] = "application/json" }
  if token then h["Authorization"] = "Bearer " .. token end
  if data.xff_base then h["X-Forwarded-For"] = client_address() end
  return h
end

local builders = {}

builders.create_customer = function()
  counter = counter + 1
  local email = string.format("bench-%s-%d-%d@example.com", run_id, thread_id or 0, counter)
  local body = string.format(
    '{"email":"%s","password":"bench-password-1","full_name":"Bench Customer %d"}', email, counter)
  return wrk.format("POST", "/api/customers", json_headers(data.admin_token), body)
end

builders.patch_customer = function()
  local uuid = pick(data.customer_uuids)
  local body = string.format('{"full_name":"Bench Customer %d-%d"}', thread_id or 0, counter)
  return wrk.format("PATCH", "/api/customers/" .. uuid, json_headers(data.admin_token), body)
end

builders.get_customer = function()
  return wrk.format("GET", "/api/customers/" .. pick(data.customer_uuids),
    json_headers(data.admin_token))
end

builders.list_keyword = function()
  return wrk.format("GET", "/api/customers?keyword=smith&limit=20", json_headers(data.admin_token))
end

builders.create_address = function()
  -- EverShop asks for a province; the service takes it too.
  local body = '{"full_name":"Bench Customer","address_1":"1 Main St","city":"Springfield",' ..
    '"province":"NY","country":"US","postcode":"12345","is_default":false}'
  return wrk.format("POST", "/api/customers/" .. pick(data.address_customer_uuids) .. "/addresses",
    json_headers(data.admin_token), body)
end

builders.patch_address_default = function()
  local pair = pick(data.address_paths)
  return wrk.format("PATCH", pair, json_headers(data.admin_token), '{"is_default":true}')
end

builders.graphql_customer = function()
  local body = string.format(
    '{"query":"{ customer(id: \\"%s\\") { customerId uuid email fullName status createdAt { value text } group { groupName } addresses { uuid city isDefault } } }"}',
    pick(data.customer_uuids))
  return wrk.format("POST", "/api/admin/graphql", json_headers(data.admin_token), body)
end

builders.graphql_customers_page = function()
  local body = '{"query":"{ customers(filters: [{key: \\"limit\\", operation: eq, value: \\"20\\"}]) ' ..
    '{ total items { uuid email fullName group { groupName } addresses { uuid city country { name } isDefault } } } }"}'
  return wrk.format("POST", "/api/admin/graphql", json_headers(data.admin_token), body)
end

builders.reset_unknown = function()
  counter = counter + 1
  local body = string.format('{"email":"nobody-%s-%d-%d@example.com"}', run_id, thread_id or 0, counter)
  return wrk.format("POST", "/api/customers/reset-password", json_headers(nil), body)
end

builders.reset_known = function()
  local body = string.format('{"email":"%s"}', pick(data.known_emails))
  return wrk.format("POST", "/api/customers/reset-password", json_headers(nil), body)
end

builders.customer_token = function()
  local body = string.format('{"email":"%s","password":"bench-password-1"}', pick(data.known_emails))
  return wrk.format("POST", "/api/customer/tokens", json_headers(nil), body)
end

builders.token_refresh = function()
  local body = string.format('{"refreshToken":"%s"}', pick(data.refresh_tokens))
  return wrk.format("POST", "/api/customer/token/refresh", json_headers(nil), body)
end

builders.ceiling = function()
  return wrk.format("GET", "/ceiling")
end

request = builders[scenario]
