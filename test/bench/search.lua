-- wrk script for the search benchmark: POST /api/v1/search with the JSON bodies of the file named by the
-- SEARCH_BODIES environment variable (one per line), each thread cycling through them from its own offset.
-- The API key comes from wrk's -H option.
local bodies = {}
for line in io.lines(os.getenv("SEARCH_BODIES")) do
	if line ~= "" then
		bodies[#bodies + 1] = line
	end
end
assert(#bodies > 0, "SEARCH_BODIES: no bodies")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
	thread:set("offset", threads * 7)
	threads = threads + 1
end

local i
function init(args)
	i = offset or 0
end

function request()
	i = i % #bodies + 1
	return wrk.format(nil, nil, nil, bodies[i])
end
