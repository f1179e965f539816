-- wrk script for the chat benchmark: POST with the JSON bodies of the file named by the CHAT_BODIES environment
-- variable (one per line; for POST /api/v1/chat, bodies without a conversation_id, so each request starts a new
-- conversation), each thread cycling through them from its own offset. The API key comes from wrk's -H option.
-- At the end it prints "chat: A answered, F fell back, O other" counted from the 200 answers' fallback_triggered
-- (other: a 200 without it, e.g. an upstream's own answer when the same bodies go straight to it), then, when some
-- answers were not 200, "chat: first error: STATUS BODY" (the first 200 bytes of the first one a thread saw).
local bodies = {}
for line in io.lines(os.getenv("CHAT_BODIES")) do
	if line ~= "" then
		bodies[#bodies + 1] = line
	end
end
assert(#bodies > 0, "CHAT_BODIES: no bodies")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
	thread:set("offset", #threads * 7)
	threads[#threads + 1] = thread
end

local i
function init(args)
	i = offset or 0
	answered, fell_back, other = 0, 0, 0
	first_error = ""
end

function request()
	i = i % #bodies + 1
	return wrk.format(nil, nil, nil, bodies[i])
end

function response(status, headers, body)
	if status == 200 and body:find('"fallback_triggered"%s*:%s*false') then
		answered = answered + 1
	elseif status == 200 and body:find('"fallback_triggered"%s*:%s*true') then
		fell_back = fell_back + 1
	elseif status == 200 then
		other = other + 1
	elseif first_error == "" then
		first_error = status .. " " .. body:sub(1, 200):gsub("%s+$", "")
	end
end

function done(summary, latency, requests)
	local a, f, o, err = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		a = a + t:get("answered")
		f = f + t:get("fell_back")
		o = o + t:get("other")
		if err == "" then
			err = t:get("first_error")
		end
	end
	io.write(string.format("chat: %d answered, %d fell back, %d other\n", a, f, o))
	if err ~= "" then
		io.write("chat: first error: " .. err .. "\n")
	end
end
