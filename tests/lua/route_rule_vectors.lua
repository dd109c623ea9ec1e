-- tests/lua/route_rule_vectors.lua - runs the shared vectors of the one writer rule
-- (tests/vectors/route_rule.txt, format in its header) through haproxy/haprole.lua's decide(),
-- outside HAProxy:
--   lua5.3 tests/lua/route_rule_vectors.lua haproxy/haprole.lua tests/vectors/route_rule.txt
-- Prints one line per failing case (with the line number of its `case` line) and a summary;
-- exit 0 when every case passes, 1 when one fails, 2 when the file cannot be read or parsed.

local lua_file, vec_file = arg[1], arg[2]
if lua_file == nil or vec_file == nil then
	io.stderr:write("usage: route_rule_vectors.lua HAPROLE_LUA VECTOR_FILE\n")
	os.exit(2)
end
local chunk, err = loadfile(lua_file)
if chunk == nil then
	io.stderr:write(err .. "\n")
	os.exit(2)
end
local M = chunk()
local f = io.open(vec_file, "r")
if f == nil then
	io.stderr:write("cannot open " .. vec_file .. "\n")
	os.exit(2)
end

local function die(lno, why)
	io.stderr:write(string.format("%s:%d: %s\n", vec_file, lno, why))
	os.exit(2)
end

local YESNO = { yes = true, no = false }
local NODE_KEYS = {
	heard = "yesno", fresh = "yesno", pg = "yesno", up = "yesno", role = "role", tl = "num",
	sysid = "sysid", fenced = "yesno", admin = "admin", lag = "num", lag_ms = "num",
	streaming = "yesno", paused = "yesno",
}
local ROLES = { primary = true, standby = true, unknown = true }
local ADMINS = { ready = true, drain = true, maint = true }
local STATUSES = { ok = true, ["no-primary"] = true, ["split-brain"] = true, stale = true }
local VERDICTS = {}
for w in ("writer reader standby stale no-pg down foreign fenced maint outranked split drain " ..
	"not-streaming lagging"):gmatch("%S+") do
	VERDICTS[w] = true
end

local function num(lno, s)
	if not s:match("^%d+$") or #s > 16 then
		die(lno, "not a decimal number: " .. s)
	end
	local n = math.tointeger(tonumber(s))
	if n == nil or n >= 2 ^ 53 then
		die(lno, "number out of range: " .. s)
	end
	return n
end

local function kv(lno, word)
	local k, v = word:match("^([^=]+)=(.*)$")
	if k == nil then
		die(lno, "not KEY=VALUE: " .. word)
	end
	return k, v
end

local function parse_node(lno, words)
	local name = words[2]
	if name == nil or name == "-" or not name:match("^[%w_.-]+$") then
		die(lno, "bad node name")
	end
	local o = { heard = true, fresh = true, pg = true, up = true, role = "unknown", tl = 1,
		sysid = "1", fenced = false, admin = "ready", lag = 0, lag_ms = 0, streaming = true,
		paused = false }
	for i = 3, #words do
		local k, v = kv(lno, words[i])
		local kind = NODE_KEYS[k]
		if kind == nil then
			die(lno, "unknown node key " .. k)
		elseif kind == "yesno" then
			if YESNO[v] == nil then
				die(lno, k .. " is not yes|no")
			end
			o[k] = YESNO[v]
		elseif kind == "num" then
			o[k] = num(lno, v)
		elseif kind == "role" then
			if not ROLES[v] then
				die(lno, "bad role " .. v)
			end
			o[k] = v
		elseif kind == "admin" then
			if not ADMINS[v] then
				die(lno, "bad admin " .. v)
			end
			o[k] = v
		elseif kind == "sysid" then
			o[k] = v == "-" and "" or v
		end
	end
	if not o.heard and o.fresh then
		die(lno, "heard=no needs fresh=no")
	end
	local st = nil
	if o.heard then
		st = { cluster = "c", node = name, admin = o.admin, fenced = o.fenced, pg = {
			present = o.pg, up = o.up, role = o.role, tl = o.tl, sysid = o.sysid,
			lag_bytes = o.lag, lag_ms = o.lag_ms, streaming = o.streaming, paused = o.paused } }
	end
	return name, { fresh = o.fresh, st = st }
end

local cases, failed = 0, 0
local c -- the case being read
local lno = 0
for line in f:lines() do
	lno = lno + 1
	local words = {}
	for w in line:gmatch("[^ \t]+") do
		words[#words + 1] = w
	end
	local kw = words[1]
	if kw == nil or kw:sub(1, 1) == "#" then
		-- blank or comment
	elseif kw == "case" then
		if c then
			die(lno, "case inside a case")
		end
		c = { line = lno, desc = line:match("^%s*case%s+(.*)$") or "", nodes = {}, names = {},
			sysid = "", params = false }
	elseif c == nil then
		die(lno, kw .. " outside a case")
	elseif kw == "param" then
		if c.params or #c.nodes > 0 then
			die(lno, "param twice, or after a node")
		end
		c.params = true
		for i = 2, #words do
			local k, v = kv(lno, words[i])
			if k == "sysid" then
				c.sysid = v == "-" and "" or v
			elseif k == "max_lag" then
				c.max_lag = v ~= "-" and num(lno, v) or nil
			else
				die(lno, "unknown param " .. k)
			end
		end
	elseif kw == "node" then
		local name, n = parse_node(lno, words)
		if c.names[name] then
			die(lno, "node " .. name .. " twice")
		end
		c.names[name] = #c.nodes + 1
		c.nodes[#c.nodes + 1] = n
		c[#c.nodes] = name
	elseif kw == "expect" then
		c.expect = {}
		for i = 2, #words do
			local k, v = kv(lno, words[i])
			if k ~= "status" and k ~= "writer" and k ~= "reader" then
				die(lno, "unknown expect key " .. k)
			end
			c.expect[k] = v
		end
		if not STATUSES[c.expect.status] or not c.expect.writer or not c.expect.reader then
			die(lno, "expect needs status=S writer=NAME|- reader=NAME|-")
		end
	elseif kw == "verdict" then
		c.verdict = {}
		for i = 2, #words do
			local k, v = kv(lno, words[i])
			if not c.names[k] or c.verdict[k] or not VERDICTS[v] then
				die(lno, "bad verdict " .. words[i])
			end
			c.verdict[k] = v
		end
	elseif kw == "end" then
		if not c.expect or not c.verdict then
			die(lno, "case without expect or verdict")
		end
		for name in pairs(c.names) do
			if not c.verdict[name] then
				die(lno, "no verdict for node " .. name)
			end
		end
		cases = cases + 1
		local d, v = M.decide(c.nodes, c.sysid, c.max_lag)
		local got_w = d.writer and c[d.writer] or "-"
		local got_r = d.reader and c[d.reader] or "-"
		local bad = {}
		if d.status ~= c.expect.status then
			bad[#bad + 1] = "status " .. d.status .. " (want " .. c.expect.status .. ")"
		end
		if got_w ~= c.expect.writer then
			bad[#bad + 1] = "writer " .. got_w .. " (want " .. c.expect.writer .. ")"
		end
		if got_r ~= c.expect.reader then
			bad[#bad + 1] = "reader " .. got_r .. " (want " .. c.expect.reader .. ")"
		end
		for i, name in ipairs(c) do
			if v[i] ~= c.verdict[name] then
				bad[#bad + 1] = "verdict " .. name .. "=" .. tostring(v[i]) .. " (want " ..
					c.verdict[name] .. ")"
			end
		end
		if #bad > 0 then
			failed = failed + 1
			print(string.format("FAIL %s:%d: %s: %s", vec_file, c.line, c.desc,
				table.concat(bad, ", ")))
		end
		c = nil
	else
		die(lno, "unknown keyword " .. kw)
	end
end
f:close()
if c then
	die(lno, "case not closed")
end
if cases == 0 then
	die(lno, "no case")
end
print(string.format("lua route rule: %d cases, %d passed, %d failed", cases, cases - failed,
	failed))
os.exit(failed == 0 and 0 or 1)
