-- Request builders for every scenario. The harness prepends a table `data`
-- (tokens, uuids, emails) and sets `scenario`; each wrk thread gets an `id`.

local counter = 0
local run_id = data.run_id

-- Runs in the main state: number the threads, so generated emails stay unique.
function setup(thread)
  thread_seq = (thread_seq or 0) + 1
  thread:set("thread_id", thread_seq)
end

local function pick(list)
  counter = counter + 1
  return list[(counter % #list) + 1]
end

local function json_headers(token)
  local h = { ["Content-Type"] = "application/json" }
  if token then h["Authorization"] = "Bearer " .. token end
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
  local body = '{"full_name":"Bench Customer","address_1":"1 Main St","city":"Springfield",' ..
    '"country":"US","postcode":"12345","is_default":false}'
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
