-- haproxy/haprole.lua - the Lua router: haprole-spoa's routing inside HAProxy, no extra process
-- (docs/lua.md). Lua 5.3 as HAProxy 2.6 and 3.x embed it.
--
-- Loaded with `lua-load` (ONE state for the whole process, never lua-load-per-thread), it
--   * follows the state feed of every configured haprole-agent (SUBSCRIBE: 4-byte big-endian
--     length + one msgpack map per frame, docs/design.md section 4), one task per agent: a node
--     whose feed is silent for 3 heartbeats, closed or broken is stale (its last state is kept
--     as evidence, as haprole-spoa does); reconnects with backoff 100 ms doubling to 2 s;
--   * decides writer, reader and status with the one writer rule (common/route_rule.c, mirrored
--     in decide() below and checked against tests/vectors/route_rule.txt by
--     tests/lua/route_rule_vectors.lua) on every frame and every loss;
--   * registers the action `lua.haprole-route` (http-request, tcp-request content) that sets
--     txn.haprole.writer / .reader (unset when none), .status (ok | no-primary | split-brain |
--     stale) and .epoch (+1 whenever the writer changes), so haproxy.cfg's use-server rules work
--     unchanged (`lua.haprole-route-read` for read frontends: the same, never held), and the
--     HTTP service `lua.haprole-status` (one line per node and the decision).
--
-- Configuration: environment variables set with `setenv` in haproxy.cfg's global section BEFORE
-- the lua-load line (read when the file loads, so `haproxy -c` checks them):
--   HAPROLE_NODES      required: "SERVER=IP:PORT ..." HAProxy server name = its agent port, in
--                      the order that breaks reader ties
--   HAPROLE_CLUSTER    required: the agents' cluster name; a state naming another is ignored
--   HAPROLE_HEARTBEAT  the agents' heartbeat (default 500ms); silent for 3 = stale
--   HAPROLE_SYSID      the cluster's system identifier (default: learn it from the nodes)
--   HAPROLE_MAX_LAG    reader lag limit in bytes, suffixes kB MB GB (default: none)
--   HAPROLE_HOLD_MAX   how long a write may wait for a promotion in the hold window (default 0:
--                      never; at most 3.5s): haprole-spoa's hold_max
--
-- Loaded outside HAProxy (no `core`), it only returns its pure functions (the tests use them).

local M = {}

M.FRAME_MAX = 8192 -- NS_FRAME_MAX: the largest payload a subscriber accepts
M.SILENCE = 3      -- heartbeats without a frame before a node is stale
M.BACKOFF_MIN = 0.1
M.BACKOFF_MAX = 2.0
local DEPTH_MAX = 8 -- msgpack nesting the decoder follows (the state needs 2)

-- ---- msgpack: the subset the agent's encoder (msgpack-c) emits, and anything else skipped ----
-- decode(p, pos, depth) -> value, next position; or nil, nil, why. Every length is checked
-- against the bytes left before use; container counts too (each element takes >= 1 byte).

local mp_value

local function mp_need(p, pos, n)
	return pos + n - 1 <= #p
end

local function mp_bytes(p, pos, n)
	if not mp_need(p, pos, n) then
		return nil, nil, "truncated"
	end
	return p:sub(pos, pos + n - 1), pos + n
end

local function mp_container(p, pos, count, is_map, depth)
	if depth >= DEPTH_MAX then
		return nil, nil, "nested too deep"
	end
	if count * (is_map and 2 or 1) > #p - pos + 1 then
		return nil, nil, "count beyond the payload"
	end
	local t = {}
	for i = 1, count do
		local k, v, why
		if is_map then
			k, pos, why = mp_value(p, pos, depth + 1)
			if why then
				return nil, nil, why
			end
			if type(k) ~= "string" then
				return nil, nil, "map key is not a string"
			end
		else
			k = i
		end
		v, pos, why = mp_value(p, pos, depth + 1)
		if why then
			return nil, nil, why
		end
		t[k] = v
	end
	return t, pos
end

local FIXED = { -- type byte -> string.unpack format of the fixed-size value that follows
	[0xca] = ">f", [0xcb] = ">d",
	[0xcc] = ">I1", [0xcd] = ">I2", [0xce] = ">I4", [0xcf] = ">i8", -- uint64 >= 2^63 wraps
	[0xd0] = ">i1", [0xd1] = ">i2", [0xd2] = ">i4", [0xd3] = ">i8",
}
local FIXED_LEN = { [0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8,
	[0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8 }
local SIZED = { -- type byte -> { bytes of the length, kind }
	[0xc4] = { 1, "str" }, [0xc5] = { 2, "str" }, [0xc6] = { 4, "str" }, -- bin: as strings
	[0xd9] = { 1, "str" }, [0xda] = { 2, "str" }, [0xdb] = { 4, "str" },
	[0xdc] = { 2, "array" }, [0xdd] = { 4, "array" },
	[0xde] = { 2, "map" }, [0xdf] = { 4, "map" },
}
local LEN_FMT = { [1] = ">I1", [2] = ">I2", [4] = ">I4" }

mp_value = function(p, pos, depth)
	if not mp_need(p, pos, 1) then
		return nil, nil, "truncated"
	end
	local b = p:byte(pos)
	pos = pos + 1
	if b <= 0x7f then
		return b, pos
	elseif b >= 0xe0 then
		return b - 0x100, pos
	elseif b >= 0xa0 and b <= 0xbf then
		return mp_bytes(p, pos, b & 0x1f)
	elseif b >= 0x80 and b <= 0x8f then
		return mp_container(p, pos, b & 0x0f, true, depth)
	elseif b >= 0x90 and b <= 0x9f then
		return mp_container(p, pos, b & 0x0f, false, depth)
	elseif b == 0xc0 then
		return nil, pos -- nil: the key reads as absent
	elseif b == 0xc2 or b == 0xc3 then
		return b == 0xc3, pos
	elseif FIXED[b] then
		if not mp_need(p, pos, FIXED_LEN[b]) then
			return nil, nil, "truncated"
		end
		return (string.unpack(FIXED[b], p, pos)), pos + FIXED_LEN[b]
	elseif SIZED[b] then
		local lb, kind = SIZED[b][1], SIZED[b][2]
		if not mp_need(p, pos, lb) then
			return nil, nil, "truncated"
		end
		local n = string.unpack(LEN_FMT[lb], p, pos)
		pos = pos + lb
		if kind == "str" then
			return mp_bytes(p, pos, n)
		end
		return mp_container(p, pos, n, kind == "map", depth)
	end
	return nil, nil, string.format("unsupported msgpack type 0x%02x", b)
end

-- One feed payload -> its map, or nil, why. The whole payload must be one value.
function M.mp_decode(p)
	local v, pos, why = mp_value(p, 1, 0)
	if why then
		return nil, why
	end
	if pos ~= #p + 1 then
		return nil, "bytes after the state"
	end
	return v
end

-- ---- a decoded map -> node state (common/node_state.c's defaults and type checks) -----------

local ROLES = { primary = true, standby = true, unknown = true }
local ADMINS = { ready = true, drain = true, maint = true }

local function field(m, key, kind, default, why)
	local v = m[key]
	if v == nil then
		return default
	end
	if kind == "uint" then
		if math.type(v) ~= "integer" then
			error(why .. key .. " is not an integer", 0)
		end
	elseif type(v) ~= kind then
		error(why .. key .. " is not a " .. kind, 0)
	end
	return v
end

-- M.state(map) -> st, or nil, why. st = { cluster, node, seq, admin, fenced, pg = { present, up,
-- role, tl, sysid, lag_bytes, lag_ms, streaming, paused } }: what the rule reads.
function M.state(m)
	if type(m) ~= "table" then
		return nil, "expected a map"
	end
	local ok, st = pcall(function()
		local st = {
			v = field(m, "v", "uint", nil, ""),
			cluster = field(m, "cluster", "string", nil, ""),
			node = field(m, "node", "string", nil, ""),
			boot = field(m, "boot", "uint", nil, ""),
			seq = field(m, "seq", "uint", nil, ""),
			admin = field(m, "admin", "string", "ready", ""),
			fenced = field(m, "fenced", "boolean", false, ""),
		}
		if st.v == nil or st.cluster == nil or st.node == nil or st.boot == nil or st.seq == nil then
			error("missing one of v, cluster, node, boot, seq", 0)
		end
		if st.v == 0 or st.cluster == "" or st.node == "" then
			error("v is 0, or cluster or node is empty", 0)
		end
		if not ADMINS[st.admin] then
			error("unknown admin " .. st.admin, 0)
		end
		local pg = field(m, "pg", "table", {}, "")
		st.pg = {
			present = field(pg, "present", "boolean", false, "pg."),
			up = field(pg, "up", "boolean", false, "pg."),
			role = field(pg, "role", "string", "unknown", "pg."),
			tl = field(pg, "tl", "uint", 0, "pg."),
			sysid = field(pg, "sysid", "string", "", "pg."),
			lag_bytes = field(pg, "lag_bytes", "uint", 0, "pg."),
			lag_ms = field(pg, "lag_ms", "uint", 0, "pg."),
			streaming = field(pg, "streaming", "boolean", false, "pg."),
			paused = field(pg, "paused", "boolean", false, "pg."),
		}
		if not ROLES[st.pg.role] then
			error("unknown pg.role " .. st.pg.role, 0)
		end
		if st.pg.tl < 0 or st.pg.tl > 0xffffffff then
			error("pg.tl out of range", 0)
		end
		return st
	end)
	if not ok then
		return nil, st
	end
	return st
end

-- ---- the one writer rule (common/route_rule.c, same passes, same order) ---------------------
-- nodes[i] = { fresh = bool, st = state or nil (never heard from) }. sysid: configured system
-- identifier, "" or nil = learn it. max_lag: bytes, nil = none. Returns d = { status, writer,
-- reader, top } (indices into nodes or nil) and the verdict name of every node.

local function is_evidence(s)
	return s ~= nil and s.pg.present and s.pg.role == "primary" and s.pg.tl > 0 and
		s.pg.sysid ~= ""
end

-- rr_node_verdict(): one fresh node on its own.
function M.node_verdict(s)
	if not s.pg.present then
		return "no-pg"
	end
	if not s.pg.up then
		return "down"
	end
	if s.pg.role == "primary" then
		if s.fenced then
			return "fenced"
		end
		if s.admin == "maint" then
			return "maint"
		end
		return "writer"
	elseif s.pg.role == "standby" then
		return "standby"
	end
	return "down"
end

-- rr_outranked_by(): the node (last seen) primary of self's sysid on the highest timeline above
-- self's, or nil.
function M.outranked_by(nodes, self)
	local s = nodes[self].st
	if s == nil then
		return nil
	end
	local best, by = s.pg.tl, nil
	for i = 1, #nodes do
		local e = nodes[i].st
		if i ~= self and is_evidence(e) and e.pg.sysid == s.pg.sysid and e.pg.tl > best then
			best, by = e.pg.tl, i
		end
	end
	return by
end

local function standby_verdict(s, want, max_lag)
	if want ~= "" and s.pg.sysid ~= want then
		return "foreign"
	end
	if s.admin == "maint" then
		return "maint"
	end
	if s.admin == "drain" then
		return "drain"
	end
	if not s.pg.streaming or s.pg.paused then
		return "not-streaming"
	end
	if max_lag ~= nil and math.ult(max_lag, s.pg.lag_bytes) then
		return "lagging"
	end
	return "standby"
end

function M.decide(nodes, sysid, max_lag)
	local n = #nodes
	local v = {}
	local want = sysid or ""
	local d = { status = "no-primary" }
	local cand_sysid, conflict, any_stale = nil, false, false
	local best_tl, top_tl, at_best = 0, 0, 0

	-- pass 1: each node alone; evidence of the highest timeline
	for i = 1, n do
		local s = nodes[i].st
		if is_evidence(s) and (want == "" or s.pg.sysid == want) and s.pg.tl > top_tl then
			top_tl, d.top = s.pg.tl, i
		end
		if not nodes[i].fresh or s == nil then
			any_stale = true
			v[i] = "stale"
		else
			v[i] = M.node_verdict(s)
			if (v[i] == "writer" or v[i] == "standby") and want ~= "" and s.pg.sysid ~= want then
				v[i] = "foreign"
			end
		end
	end
	-- pass 2: candidates not outranked; the writer is alone on the highest timeline
	for i = 1, n do
		if v[i] == "writer" then
			local s = nodes[i].st
			if M.outranked_by(nodes, i) then
				v[i] = "outranked"
			else
				if cand_sysid == nil then
					cand_sysid = s.pg.sysid
				elseif cand_sysid ~= s.pg.sysid then
					conflict = true
				end
				if at_best == 0 or s.pg.tl > best_tl then
					best_tl, d.writer, at_best = s.pg.tl, i, 1
				elseif s.pg.tl == best_tl then
					at_best = at_best + 1
				end
			end
		end
	end
	-- a lost node last seen primary (not fenced) on the writer's timeline and sysid: it may
	-- still take writes
	if d.writer and not conflict then
		local wsys = nodes[d.writer].st.pg.sysid
		for i = 1, n do
			local s = nodes[i].st
			if v[i] == "stale" and is_evidence(s) and not s.fenced and s.pg.tl == best_tl and
				s.pg.sysid == wsys then
				at_best = at_best + 1
			end
		end
	end
	if conflict or at_best > 1 then
		for i = 1, n do
			if v[i] == "writer" then
				v[i] = "split"
			end
		end
		d.status, d.writer = "split-brain", nil
	elseif d.writer then
		d.status = "ok"
		want = nodes[d.writer].st.pg.sysid
	elseif any_stale then
		d.status = "stale"
	end
	-- pass 3: the reader
	for i = 1, n do
		if v[i] == "standby" then
			local s = nodes[i].st
			v[i] = standby_verdict(s, want, max_lag)
			if v[i] == "standby" then
				if d.reader == nil then
					d.reader = i
				else
					local b = nodes[d.reader].st
					if math.ult(s.pg.lag_bytes, b.pg.lag_bytes) or
						(s.pg.lag_bytes == b.pg.lag_bytes and math.ult(s.pg.lag_ms, b.pg.lag_ms)) then
						d.reader = i
					end
				end
			end
		end
	end
	if d.reader then
		v[d.reader] = "reader"
	else
		d.reader = d.writer
	end
	return d, v
end

-- The hold window (haprole-spoa's cv_hold_candidates(), spoe/cluster_view.c): which nodes could
-- become the writer that was drained or lost, a primary of <sysid> on timeline <tl>; only among
-- <among> (a set of indices, nil = all). <at_loss>: fresh, up, a standby of that sysid and
-- timeline, not paused, streaming or within <max_lag>. Afterwards: still fresh and up, still a
-- standby of that timeline or already a primary (promotion under way). Returns a set or nil.
function M.hold_candidates(nodes, sysid, tl, max_lag, among, at_loss)
	local out, any = {}, false
	for i, n in ipairs(nodes) do
		local s = n.st
		if (among == nil or among[i]) and n.fresh and s ~= nil and s.pg.present and s.pg.up and
			s.pg.sysid ~= "" and s.pg.sysid == sysid then
			local sb = s.pg.role == "standby" and s.pg.tl == tl and not s.pg.paused
			if at_loss then
				if sb and (s.pg.streaming or max_lag == nil or not math.ult(max_lag, s.pg.lag_bytes)) then
					out[i], any = true, true
				end
			elseif sb or s.pg.role == "primary" then
				out[i], any = true, true
			end
		end
	end
	return any and out or nil
end

-- ---- configuration ---------------------------------------------------------------------------

-- "500ms", "2s", "1.5s", "0.5" (seconds) -> seconds, or nil.
function M.parse_duration(s)
	local num, unit = tostring(s):match("^%s*([%d.]+)%s*(%a*)%s*$")
	num = tonumber(num)
	if num == nil then
		return nil
	end
	local mult = ({ [""] = 1, s = 1, ms = 0.001 })[unit]
	if mult == nil or num * mult <= 0 then
		return nil
	end
	return num * mult
end

-- "1048576", "1MB", "512kB" -> bytes (integer), or nil.
function M.parse_size(s)
	local num, unit = tostring(s):match("^%s*(%d+)%s*(%a*)%s*$")
	num = math.tointeger(tonumber(num))
	if num == nil then
		return nil
	end
	local mult = ({ [""] = 1, B = 1, k = 1024, K = 1024, kB = 1024, KB = 1024, KiB = 1024,
		M = 1048576, MB = 1048576, MiB = 1048576, G = 1073741824, GB = 1073741824,
		GiB = 1073741824 })[unit]
	if mult == nil or num > math.maxinteger // mult then
		return nil
	end
	return num * mult
end

-- "db1=10.0.0.11:5555 db2=10.0.0.12:5555" -> { { server, host, port }, ... }, or nil, why.
function M.parse_nodes(s)
	local nodes, seen = {}, {}
	for word in tostring(s or ""):gmatch("[^%s,]+") do
		local server, host, port = word:match("^([%w_.-]+)=([%d.]+):(%d+)$")
		if server == nil then
			server, host, port = word:match("^([%w_.-]+)=%[([%x:.]+)%]:(%d+)$")
		end
		port = tonumber(port)
		if server == nil or port == nil or port < 1 or port > 65535 then
			return nil, "'" .. word .. "' is not SERVER=IP:PORT (numeric address)"
		end
		if seen[server] then
			return nil, "server " .. server .. " listed twice"
		end
		if #server > 47 then
			return nil, "server name " .. server .. " longer than 47 bytes"
		end
		seen[server] = true
		nodes[#nodes + 1] = { server = server, host = host, port = port }
	end
	if #nodes == 0 then
		return nil, "no node"
	end
	return nodes
end

-- getenv -> config table, or raises an error naming the variable.
function M.load_config(getenv)
	local function bad(key, why)
		error(string.format("haprole.lua: %s: %s", key, why), 0)
	end
	local c = {}
	local nodes, why = M.parse_nodes(getenv("HAPROLE_NODES"))
	if getenv("HAPROLE_NODES") == nil then
		bad("HAPROLE_NODES", "not set (setenv it before the lua-load line)")
	end
	if nodes == nil then
		bad("HAPROLE_NODES", why)
	end
	c.nodes = nodes
	c.cluster = getenv("HAPROLE_CLUSTER")
	if c.cluster == nil or not c.cluster:match("^[%w_.-]+$") then
		bad("HAPROLE_CLUSTER", "not set, or not a name")
	end
	local hb = getenv("HAPROLE_HEARTBEAT")
	c.heartbeat = 0.5
	if hb ~= nil and hb ~= "" then
		c.heartbeat = M.parse_duration(hb)
		if c.heartbeat == nil or c.heartbeat < 0.01 or c.heartbeat > 60 then
			bad("HAPROLE_HEARTBEAT", "'" .. hb .. "' is not a duration in 10ms..60s")
		end
	end
	c.sysid = getenv("HAPROLE_SYSID") or ""
	if c.sysid ~= "" and not c.sysid:match("^%d+$") then
		bad("HAPROLE_SYSID", "'" .. c.sysid .. "' is not a decimal system identifier")
	end
	local hm = getenv("HAPROLE_HOLD_MAX")
	c.hold_max = 0
	if hm ~= nil and hm ~= "" and hm ~= "0" then
		c.hold_max = M.parse_duration(hm)
		if c.hold_max == nil or c.hold_max > 3.5 then
			bad("HAPROLE_HOLD_MAX", "'" .. hm .. "' is not a duration up to 3.5s (HAProxy's " ..
				"Lua actions may run 4s)")
		end
	end
	local ml = getenv("HAPROLE_MAX_LAG")
	if ml ~= nil and ml ~= "" then
		c.max_lag = M.parse_size(ml)
		if c.max_lag == nil then
			bad("HAPROLE_MAX_LAG", "'" .. ml .. "' is not a size (bytes, kB, MB, GB)")
		end
	end
	return c
end

if core == nil then
	return M
end

-- ---- inside HAProxy ------------------------------------------------------------------------

local cfg = M.load_config(os.getenv)
local silence = M.SILENCE * cfg.heartbeat
-- The view: one entry per node (config order); the decision the action hands out.
local view = {
	nodes = {},
	status = "stale",
	writer = nil,
	reader = nil,
	epoch = 0,
	changes = 0,
	deadline = math.huge, -- the earliest time a fresh node turns stale
	hold = false,         -- hold window open: writes wait (up to HAPROLE_HOLD_MAX) for the writer
	hold_cand = nil,      -- the nodes that could become it
	hold_since = 0,
	w_tl = 0,             -- the last writer's timeline and sysid
	w_sysid = "",
}
for i, n in ipairs(cfg.nodes) do
	view.nodes[i] = { server = n.server, host = n.host, port = n.port, fresh = false, st = nil,
		frames = 0, losses = 0, seen = 0, mismatch = false, why = "not connected yet" }
end

local function now()
	local t = core.now()
	return t.sec + t.usec / 1e6
end

-- A soft stop (reload: the new process takes over) has begun: the feed tasks end, so that the
-- old process can exit once its sessions are done.
local function stopping()
	local ok, info = pcall(core.get_info)
	return ok and type(info) == "table" and tonumber(info["Stopping"]) == 1
end

local function log(level, msg)
	core.log(level, "haprole: " .. msg)
end

-- Opens, keeps or closes the hold window for decision <d> before the view takes it, as
-- haprole-spoa's cv_update_hold(): open while the writer is drained (planned switchover) or
-- lost, and a standby of its timeline can take over.
local function update_hold(d, writer)
	local was = view.hold
	if d.writer then
		local w = view.nodes[d.writer].st
		view.w_tl, view.w_sysid = w.pg.tl, w.pg.sysid
		view.hold_cand = w.admin == "drain" and M.hold_candidates(view.nodes, view.w_sysid,
			view.w_tl, cfg.max_lag, nil, true) or nil
	elseif d.status == "split-brain" then
		view.hold_cand = nil -- two primaries: nothing to wait for
	elseif view.writer ~= nil and writer == nil then
		view.hold_cand = M.hold_candidates(view.nodes, view.w_sysid, view.w_tl, cfg.max_lag, nil,
			true)
	elseif view.hold_cand ~= nil then
		view.hold_cand = M.hold_candidates(view.nodes, view.w_sysid, view.w_tl, cfg.max_lag,
			view.hold_cand, false)
	end
	view.hold = view.hold_cand ~= nil
	if view.hold == was or cfg.hold_max <= 0 then
		return
	end
	if view.hold then
		view.hold_since = now()
		log(core.info, string.format("cluster %s: writer %s, a standby of timeline %d can take " ..
			"over: writes wait up to %.3fs for it (hold window open)", cfg.cluster,
			d.writer and "drained" or "lost", view.w_tl, cfg.hold_max))
	else
		log(core.info, string.format("cluster %s: hold window closed after %.3fs (%s)",
			cfg.cluster, now() - view.hold_since, d.writer and "writer back" or d.status))
	end
end

-- Re-decides; logs a change of writer (bumping epoch) or of status, like haprole-spoa.
local function recompute()
	local d = M.decide(view.nodes, cfg.sysid, cfg.max_lag)
	local writer = d.writer and view.nodes[d.writer].server or nil
	local reader = d.reader and view.nodes[d.reader].server or nil
	update_hold(d, writer)
	if writer ~= view.writer then
		view.epoch = view.epoch + 1
		view.changes = view.changes + 1
		log(core.info, string.format("cluster %s: writer %s -> %s (epoch %d, status %s)",
			cfg.cluster, view.writer or "none", writer or "none", view.epoch, d.status))
	elseif d.status ~= view.status then
		log(core.info, string.format("cluster %s: status %s -> %s", cfg.cluster, view.status,
			d.status))
	end
	view.writer, view.reader, view.status = writer, reader, d.status
	-- the action re-checks freshness past this time, even if a feed task were stuck
	local deadline = math.huge
	for _, n in ipairs(view.nodes) do
		if n.fresh and n.seen + silence < deadline then
			deadline = n.seen + silence
		end
	end
	view.deadline = deadline
end

-- Called by the action past view.deadline: a node silent for 3 heartbeats is stale now, whatever
-- its task is doing (the task's receive times out at the same bound and reconnects).
local function expire(t)
	local changed = false
	for _, n in ipairs(view.nodes) do
		if n.fresh and n.seen + silence <= t then
			log(core.warning, string.format("node %s (%s:%d): feed lost: no frame for 3 " ..
				"heartbeats", n.server, n.host, n.port))
			n.fresh = false
			n.why = "no frame for 3 heartbeats"
			n.losses = n.losses + 1
			changed = true
		end
	end
	if changed then
		recompute()
	end
end

local function node_lost(n, why)
	if n.fresh then
		log(core.warning, string.format("node %s (%s:%d): feed lost: %s", n.server, n.host,
			n.port, why))
	end
	n.fresh = false
	n.why = why
	n.losses = n.losses + 1
	recompute()
end

local function node_update(n, st)
	n.frames = n.frames + 1
	if st.cluster ~= cfg.cluster then
		if not n.mismatch then
			log(core.warning, string.format("node %s (%s:%d): its agent says cluster '%s', " ..
				"configured '%s': ignored", n.server, n.host, n.port, st.cluster, cfg.cluster))
		end
		n.mismatch = true
		n.fresh = false
		n.why = "cluster mismatch"
		recompute()
		return
	end
	if not n.fresh then
		log(core.info, string.format("node %s (%s:%d): feed up, pg %s tl %d", n.server, n.host,
			n.port, st.pg.role, st.pg.tl))
	end
	n.mismatch = false
	n.fresh = true
	n.seen = now()
	n.st = st
	n.why = ""
	recompute()
end

-- One streaming session: SUBSCRIBE, then frames until silence, close or a bad frame. Returns
-- why it ended and whether a frame arrived.
local function stream(n, sock)
	local got = false
	sock:settimeout(silence)
	local ok, err = sock:connect(n.host, n.port)
	if not ok then
		return "connect: " .. tostring(err), got
	end
	if not sock:send("SUBSCRIBE\n") then
		return "could not send SUBSCRIBE", got
	end
	local last = now()
	while true do
		if stopping() then
			return nil, got
		end
		local hdr, herr = sock:receive(4)
		if hdr == nil then
			-- HAProxy 2.6 reports its own timeout as "connection closed." too
			if herr == "timeout" or now() - last >= silence * 0.9 then
				return "no frame for 3 heartbeats", got
			end
			return "closed by the agent (" .. tostring(herr) .. ")", got
		end
		local len = string.unpack(">I4", hdr)
		if len == 0 or len > M.FRAME_MAX then
			return "bad frame length " .. len, got
		end
		local payload, perr = sock:receive(len)
		if payload == nil then
			return "frame cut short (" .. tostring(perr) .. ")", got
		end
		local map, why = M.mp_decode(payload)
		local st
		if map ~= nil then
			st, why = M.state(map)
		end
		if st == nil then
			return "bad frame: " .. why, got
		end
		got = true
		last = now()
		node_update(n, st)
		-- HAProxy closes a Lua socket whose sending side stays idle for the timeout: a
		-- newline per frame (the agent reads and drops what a subscriber sends) keeps it open
		if not sock:send("\n") then
			return "could not send to the agent", got
		end
	end
end

local function follow(n)
	local backoff = M.BACKOFF_MIN
	while not stopping() do
		local sock = core.tcp()
		-- a Lua error (a bug) ends this session, never the task: the node goes stale
		local ok, why, got = pcall(stream, n, sock)
		if not ok then
			why, got = "error: " .. tostring(why), false
		end
		sock:close()
		if why == nil then
			return -- soft stop
		end
		node_lost(n, why)
		if got then
			backoff = M.BACKOFF_MIN
		end
		core.msleep(math.floor(backoff * 1000))
		backoff = math.min(backoff * 2, M.BACKOFF_MAX)
	end
end

for _, n in ipairs(view.nodes) do
	core.register_task(function()
		follow(n)
	end)
end

local HOLD_POLL_MS = 5 -- how often a held write looks at the view again

local function check_fresh()
	if view.deadline ~= math.huge then
		local t = now()
		if t >= view.deadline then
			expire(t)
		end
	end
end

-- The actions: the decision of the moment, as haprole-spoa's ACK sets it. lua.haprole-route
-- (writes) waits, while the hold window is open, up to HAPROLE_HOLD_MAX for the new writer, as
-- haprole-spoa holds a write NOTIFY; lua.haprole-route-read never waits.
local function route(txn, hold)
	check_fresh()
	if hold and view.hold and cfg.hold_max > 0 then
		local t0 = now()
		repeat
			core.msleep(HOLD_POLL_MS)
			check_fresh()
		until not view.hold or now() - t0 >= cfg.hold_max
	end
	txn:set_var("txn.haprole.status", view.status)
	txn:set_var("txn.haprole.epoch", view.epoch)
	if view.writer then
		txn:set_var("txn.haprole.writer", view.writer)
	else
		txn:unset_var("txn.haprole.writer")
	end
	if view.reader then
		txn:set_var("txn.haprole.reader", view.reader)
	else
		txn:unset_var("txn.haprole.reader")
	end
end

core.register_action("haprole-route", { "tcp-req", "http-req" }, function(txn)
	route(txn, true)
end, 0)
core.register_action("haprole-route-read", { "tcp-req", "http-req" }, function(txn)
	route(txn, false)
end, 0)

-- `http-request use-service lua.haprole-status`: the view, plain text, one line per node.
core.register_service("haprole-status", "http", function(applet)
	local out = {}
	out[#out + 1] = string.format("cluster %s status %s writer %s reader %s epoch %d changes %d%s",
		cfg.cluster, view.status, view.writer or "-", view.reader or "-", view.epoch, view.changes,
		view.hold and cfg.hold_max > 0 and " hold open" or "")
	for _, n in ipairs(view.nodes) do
		local st = n.st
		out[#out + 1] = string.format("node %s agent %s:%d fresh %s frames %d losses %d " ..
			"role %s tl %s up %s fenced %s admin %s lag %s%s", n.server, n.host, n.port,
			tostring(n.fresh), n.frames, n.losses, st and st.pg.role or "-",
			st and tostring(st.pg.tl) or "-", st and tostring(st.pg.up) or "-",
			st and tostring(st.fenced) or "-", st and st.admin or "-",
			st and tostring(st.pg.lag_bytes) or "-", n.why ~= "" and (" why " .. n.why) or "")
	end
	local body = table.concat(out, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
