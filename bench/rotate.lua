-- wrk: GET /api/fibonacci/number/<n>/ for n = first, first + 1, ..., first + count - 1 in turn,
-- so that the keys spread over a cluster's slots (arguments after `--`: first count).
local first, count, i = 1000, 1000, 0

function init(args)
  first = tonumber(args[1] or first)
  count = tonumber(args[2] or count)
  i = math.random(count) - 1
end

function request()
  i = (i + 1) % count
  return wrk.format("GET", "/api/fibonacci/number/" .. (first + i) .. "/")
end
