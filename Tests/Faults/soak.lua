-- A mix for the soak test: mostly hits (a small hot set), a stream of misses
-- (n from a wide range, so new values keep arriving), and bad input. `done`
-- prints the 5xx count and how many answers were anything but the mix's 200,
-- 400 or 404 with a JSON body (test_soak asserts both are 0).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  errors5xx = 0
  unexpected = 0
end

request = function()
  counter = counter + 1
  local k = counter % 20
  local path
  if k < 12 then
    path = "/api/fibonacci/number/" .. (counter % 64) .. "/"                    -- hits
  elseif k < 16 then
    path = "/api/fibonacci/number/" .. math.random(1000, 30000) .. "/"          -- misses, then hits
  elseif k == 16 then
    path = "/api/fibonacci/number/" .. math.random(10, 25) .. "/?algorithm=iterative"
  elseif k == 17 then
    path = "/api/fibonacci/number/abc" .. counter .. "/"                         -- 400
  elseif k == 18 then
    path = "/api/fibonacci/number/99999999999999999999/"                         -- 400, over the limit
  else
    path = "/api/nothing/here"                                                   -- 404 from fibcache
  end
  return wrk.format("GET", path)
end

response = function(status, headers, body)
  if status >= 500 then errors5xx = errors5xx + 1 end
  -- 200, 400 and 404 are all this mix asks for, each with a JSON body.
  if (status ~= 200 and status ~= 400 and status ~= 404) or string.sub(body, 1, 1) ~= "{" then
    unexpected = unexpected + 1
  end
end

done = function(summary, latency, requests)
  local e5, other = 0, 0
  for _, thread in ipairs(threads) do
    e5 = e5 + thread:get("errors5xx")
    other = other + thread:get("unexpected")
  end
  io.write(string.format("SOAK requests=%d 5xx=%d unexpected=%d\n", summary.requests, e5, other))
end
