-- A mix for the soak test: mostly hits (a small hot set), a stream of misses
-- (n from a wide range, so new values keep arriving), and bad input.
-- Counts 5xx responses, which must stay at zero.
local counter = 0
local errors5xx = 0

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
    path = "/nothing/here"                                                       -- 404
  end
  return wrk.format("GET", path)
end

response = function(status, headers, body)
  if status >= 500 then errors5xx = errors5xx + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("SOAK requests=%d\n", summary.requests))
end
