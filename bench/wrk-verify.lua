-- POST a fresh verification sample per request: the body file's press/release timings, each shifted by
-- a small random amount, so that replay memory sees a new sample every time (as with real clients)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE") or "request.json"))
local base = f:read("*a")
f:close()
local user = base:match('"UserID":(%-?[%w"]+)')
local press = {}
for n in base:match('"press":%[([^%]]*)%]'):gmatch("[^,]+") do press[#press + 1] = tonumber(n) end
local release = {}
for n in base:match('"release":%[([^%]]*)%]'):gmatch("[^,]+") do release[#release + 1] = tonumber(n) end
request = function()
  local p, r = {}, {}
  for i = 1, #press do
    local d = math.random(0, 6)
    p[i] = press[i] + d
    r[i] = release[i] + d + math.random(-2, 2)
  end
  local body = '{"UserID":' .. user .. ',"press":[' .. table.concat(p, ",") .. '],"release":[' .. table.concat(r, ",") .. ']}'
  return wrk.format(nil, nil, nil, body)
end
