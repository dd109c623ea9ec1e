#!/usr/bin/python3
"""tests/failover/client.py - the failover suite's counting write/read client.

  client.py run    --env .demo/cluster.env --log FILE --base ID [--progress FILE] [--duration S]
                   [--http] [--fresh-lanes N] [--pool-lifetime S]
  client.py load   --env .demo/cluster.env [--port-key HAPROXY_PG_RO_PORT] [--conns N]
                   [--rate PER_S] [--duration S] [--out FILE]
  client.py verify --env .demo/cluster.env --log FILE --base ID --primary NODE
                   [--promoted-at EPOCH] [--scenario NAME] [--max-stale-ms MS] [--http-tail N]
                   [--resume-node NODE --resume-after EPOCH --resume-within S [--resume-lanes L]]
                   [--write-tail N]
                   [--closed-from EPOCH --closed-until EPOCH [--closed-lanes LANES]]
                   [--http-ok-after EPOCH]

`run` writes and reads through HAProxy until SIGTERM (or --duration): writer lanes INSERT a
unique id (base + n) on HAPROXY_PG_PORT, one lane over a persistent connection (reconnects
after an error, like a pool), and open-loop writes with a fresh connection each (one starts
every interval on any of 24 idle lanes: every write is routed anew, and one stuck on a dead
server holds up only itself); reader lanes (pooled, fresh) read on HAPROXY_PG_RO_PORT. With
--pool-lifetime S the pooled lanes retire their connection once it is S seconds old, between
two operations, as application pools do (maxLifetime): a drained server then empties. Every operation is bounded (connect +
statement <= --timeout, with psycopg2's asynchronous API: no call blocks the loop) and logged
as one JSON line: kind, id, start/end times, outcome (ack / error class / timeout), the node
that answered. --progress is rewritten every 100 ms with counters the test script polls.

`load` keeps HAProxy's router busy: connections to a HAProxy port (each one a SPOE NOTIFY), a
PostgreSQL SSLRequest on each, at --rate per second; it prints how many got an answer.

`verify` reads, directly from every reachable PostgreSQL node (not through HAProxy), which of
the ids exist, and prints one JSON object with the scenario's figures:
  writes, acked, errors, timeouts
  reached_nonprimary  writes that reached a node that was not the primary: a read-only error
                      from a standby (SQLSTATE 25006), or an ack from a node other than the
                      final primary, given after the promotion, that the final primary lacks
                      (a stale primary took it: split brain). Must be 0.
  acked_lost          acknowledged writes the final primary does not have (other cases). Must be 0.
  unavail_ms          the longest gap between two consecutive acknowledged writes
  promo_to_write_ms   promotion (history file of the new timeline) -> first ack from the new primary
  reads, read_errors, max_stale_ms (and per lane), stale_reads (staler than --max-stale-ms,
                      among reads started after --stale-after on --stale-lanes), reads_by_node
  error_kinds         the most frequent failures, "w|r CLASS: message" -> count
  http, http_errors, http_err_window_ms (first to last failed GET), http_tail_errors (failures
                      among the last --http-tail GETs: the app tier must have recovered)
  resume_ms           given --resume-node: the first write acknowledged by that node at or after
                      --resume-after (on --resume-lanes only when given), in ms after it (null:
                      none); must be <= --resume-within
  write_tail_errors   given --write-tail N: failures among the last N writes started; must be 0
  acked_while_closed  given --closed-from/--closed-until: writes started in that window and
                      answered before its end that were acknowledged (routing had to fail
                      closed), on --closed-lanes only when given; must be 0
  http_errors_after   given --http-ok-after: failed GETs among those started at or after it;
                      must be 0 (and there must be some)
  violations          every rule above that failed, in words
Exit status of verify: 0 when no rule failed (reached_nonprimary == 0, acked_lost == 0 and each
rule asked for), 1 otherwise, 2 on a usage or connection error.
Runs with /usr/bin/python3 (Debian's, with python3-psycopg2).
"""
import argparse
import bisect
import json
import os
import select
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

import psycopg2
import psycopg2.extensions as ext

ID_SPAN = 10_000_000  # ids of one run: [base, base + ID_SPAN)
FRESH_LANES = 24      # lanes for open-loop writes with a fresh connection each

WRITE_SQL = ("INSERT INTO demo_writes (id, src) VALUES (%s, %s) "
             "RETURNING node, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
READ_SQL = ("SELECT current_setting('haprole_demo.node', true), pg_is_in_recovery(), "
            "coalesce(max(id), 0) FROM demo_writes WHERE id >= %s AND id < %s")


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v.strip("'\"")
    return env


def classify(e):
    """Error class of a psycopg2 exception: readonly (reached a standby), conn, or sql."""
    code = getattr(e, "pgcode", None)
    if code == "25006":
        return "readonly"
    if code is None or isinstance(e, psycopg2.OperationalError):
        msg = str(e)
        if "read-only" in msg:
            return "readonly"
        return "conn"
    return "sql"


class Lane:
    """One stream of operations on one HAProxy port, a small state machine:
    idle -> connecting -> querying -> idle (keep the connection) or closed (fresh/after error)."""

    def __init__(self, name, kind, dsn, interval, timeout, fresh, client):
        self.name = name          # lane name in the log
        self.kind = kind          # "w" write or "r" read
        self.dsn = dsn            # libpq conninfo through HAProxy
        self.interval = interval  # seconds between operation starts
        self.timeout = timeout    # seconds for connect + statement
        self.fresh = fresh        # new connection per operation
        self.client = client      # the Client (ids, log)
        self.conn = None          # psycopg2 async connection or None
        self.cur = None           # cursor of the running statement
        self.state = "idle"       # idle | connecting | querying
        self.next_at = 0.0        # monotonic time of the next operation start
        self.op = None            # the running operation's log record
        self.deadline = 0.0       # monotonic deadline of the running operation
        self.want = ext.POLL_WRITE  # what poll() last asked to wait for
        self.opened = 0.0         # monotonic time the connection was opened

    def fileno(self):
        return self.conn.fileno()

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None
        self.cur = None

    def start(self, now):
        self.next_at = max(self.next_at, now) + self.interval
        self.op = {"k": self.kind, "lane": self.name, "t0": time.time()}
        if self.kind == "w":
            self.op["id"] = self.client.next_id()
        self.deadline = now + self.timeout
        if self.conn is None:
            try:
                self.conn = psycopg2.connect(self.dsn, async_=1)
            except psycopg2.Error as e:
                return self.fail(e)
            self.opened = now
            self.state = "connecting"
            self.poll()
        else:
            self.query()

    def query(self):
        self.cur = self.conn.cursor()
        try:
            if self.kind == "w":
                self.cur.execute(WRITE_SQL, (self.op["id"], self.name))
            else:
                b = self.client.base
                self.cur.execute(READ_SQL, (b, b + ID_SPAN))
        except psycopg2.Error as e:
            return self.fail(e)
        self.state = "querying"
        self.poll()

    def poll(self):
        """Drives the connection after readiness; returns nothing, updates state."""
        try:
            r = self.conn.poll()
        except psycopg2.Error as e:
            return self.fail(e)
        if r == ext.POLL_OK:
            if self.state == "connecting":
                return self.query()
            row = self.cur.fetchone()
            return self.done(row)
        self.want = r

    def done(self, row):
        o = self.op
        o["t1"] = time.time()
        o["ok"] = True
        if self.kind == "w":
            o["node"], o["tli"] = row[0], row[1]
        else:
            o["node"], o["standby"], o["max_id"] = row[0], bool(row[1]), int(row[2])
        self.finish()

    def fail(self, e):
        o = self.op
        o["t1"] = time.time()
        o["ok"] = False
        o["err"] = classify(e)
        o["msg"] = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        self.close()
        self.finish()

    def expire(self):
        o = self.op
        o["t1"] = time.time()
        o["ok"] = False
        o["err"] = "timeout"
        o["msg"] = "no answer within %.1fs (%s)" % (self.timeout, self.state)
        self.close()
        self.finish()

    def finish(self):
        self.client.record(self.op)
        self.op = None
        self.state = "idle"
        life = self.client.pool_lifetime
        if self.fresh or (life > 0 and time.monotonic() - self.opened >= life):
            self.close()


class Client:
    def __init__(self, a, env):
        self.base = a.base
        self.n = 0
        self.log = open(a.log, "a", buffering=1)
        self.progress = a.progress
        self.pool_lifetime = getattr(a, "pool_lifetime", 0.0)  # seconds, 0: keep forever
        self.count = {"writes": 0, "acks": 0, "werr": 0, "wto": 0, "readonly": 0,
                      "reads": 0, "rerr": 0, "last_ack_node": "", "last_ack_t": 0.0,
                      "acks_by_node": {}, "acks_by_lane": {}}
        host = env["HAPROXY_HOST"]
        common = "user=%s dbname=%s connect_timeout=%d application_name=failover-client" % (
            env["PGUSER"], env["PGDATABASE"], max(1, int(a.timeout)))
        if env.get("PGPASSWORD"):
            common += " password=%s" % env["PGPASSWORD"]
        wdsn = "host=%s port=%s %s" % (host, env["HAPROXY_PG_PORT"], common)
        rdsn = "host=%s port=%s %s" % (host, env["HAPROXY_PG_RO_PORT"], common)
        self.lock = threading.Lock()
        self.http_url = None
        if a.http:
            self.http_url = "http://%s:%s/health" % (host, env["HAPROXY_HTTP_PORT"])
        self.http_interval = a.read_interval
        self.timeout = a.timeout
        # Writers: one pooled connection (closed loop: the next write after the last one), and
        # open-loop fresh-connection writes: one starts every write interval on any idle lane
        # of FRESH_LANES, whatever the others are waiting for, as many users would; a write
        # stuck on a dead server holds up only its own lane.
        self.lanes = [Lane("w-pool", "w", wdsn, a.write_interval, a.timeout, False, self)]
        self.fresh = []
        for i in range(a.fresh_lanes):
            l = Lane("w-fresh", "w", wdsn, 0.0, a.timeout, True, self)
            l.next_at = float("inf")  # started by the client's open-loop schedule
            self.fresh.append(l)
        self.lanes += self.fresh
        self.fresh_interval = a.write_interval
        self.fresh_next = 0.0
        self.saturated = 0  # open-loop writes not started: every fresh lane busy
        self.lanes += [
                      Lane("r-pool", "r", rdsn, a.read_interval, a.timeout, False, self),
                      Lane("r-fresh", "r", rdsn, a.read_interval, a.timeout, True, self)]

    def next_id(self):
        i = self.base + self.n
        self.n += 1
        if self.n >= ID_SPAN:
            raise SystemExit("id span exhausted")
        return i

    def record(self, o):
        with self.lock:
            self._record(o)

    def _record(self, o):
        self.log.write(json.dumps(o) + "\n")
        c = self.count
        if o["k"] == "stop":
            return
        if o["k"] == "h":
            c["http"] = c.get("http", 0) + 1
            if not o["ok"]:
                c["herr"] = c.get("herr", 0) + 1
            return
        if o["k"] == "w":
            c["writes"] += 1
            if o["ok"]:
                c["acks"] += 1
                c["last_ack_node"] = o["node"]
                c["last_ack_t"] = o["t1"]
                c["acks_by_node"][o["node"]] = c["acks_by_node"].get(o["node"], 0) + 1
                c["acks_by_lane"][o["lane"]] = c["acks_by_lane"].get(o["lane"], 0) + 1
            elif o["err"] == "timeout":
                c["wto"] += 1
            else:
                c["werr"] += 1
                if o["err"] == "readonly":
                    c["readonly"] += 1
        else:
            c["reads"] += 1
            if not o["ok"]:
                c["rerr"] += 1

    def write_progress(self):
        if not self.progress:
            return
        tmp = self.progress + ".tmp"
        with self.lock, open(tmp, "w") as f:
            json.dump(self.count, f)
        os.replace(tmp, self.progress)

    def http_loop(self, stop):
        """HTTP lane, in its own thread (blocking urllib, bounded by the timeout): GET /health
        through HAProxy -> nginx -> app; records the status and the node that answered."""
        next_at = time.monotonic()
        while not stop[0]:
            o = {"k": "h", "lane": "h", "t0": time.time()}
            try:
                with urllib.request.urlopen(self.http_url, timeout=self.timeout) as r:
                    r.read()
                    o["code"], o["node"] = r.status, r.headers.get("X-Demo-Node")
            except urllib.error.HTTPError as e:
                o["code"], o["node"] = e.code, e.headers.get("X-Demo-Node")
            except Exception as e:  # connection refused, reset, timeout
                o["code"], o["msg"] = 0, str(e)[:200]
            o["t1"] = time.time()
            o["ok"] = o["code"] == 200
            self.record(o)
            next_at = max(next_at + self.http_interval, time.monotonic())
            time.sleep(max(0.0, next_at - time.monotonic()))

    def run(self, duration):
        stop = [False]
        signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
        signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
        end = time.monotonic() + duration if duration else None
        next_progress = 0.0
        stopped_logged = False
        th = None
        if self.http_url:
            th = threading.Thread(target=self.http_loop, args=(stop,), daemon=True)
            th.start()
        while True:
            now = time.monotonic()
            if stop[0] or (end and now >= end):
                stop[0] = True
                if not stopped_logged:  # the run's end for the figures, whatever is in flight
                    t = time.time()
                    self.record({"k": "stop", "t0": t, "t1": t, "ok": True})
                    stopped_logged = True
                # Finish operations in flight (bounded by their deadlines), start no new one.
                if all(l.state == "idle" for l in self.lanes):
                    break
            for l in self.lanes:
                if l.state != "idle" and now >= l.deadline:
                    l.expire()
                if l.state == "idle" and not stop[0] and now >= l.next_at:
                    l.start(now)
            if not stop[0] and now >= self.fresh_next:
                self.fresh_next = max(self.fresh_next + self.fresh_interval, now)
                idle = [l for l in self.fresh if l.state == "idle"]
                if idle:
                    idle[0].start(now)
                    idle[0].next_at = float("inf")
                else:
                    self.saturated += 1
                    self.count["saturated"] = self.saturated
            if now >= next_progress:
                self.write_progress()
                next_progress = now + 0.1
            rd, wr = [], []
            wake = now + 0.1
            wake = min(wake, self.fresh_next)
            for l in self.lanes:
                if l.state == "idle":
                    wake = min(wake, l.next_at)
                    continue
                wake = min(wake, l.deadline)
                (rd if l.want == ext.POLL_READ else wr).append(l)
            try:
                r, w, _ = select.select(rd, wr, [], max(0.0, wake - time.monotonic()))
            except InterruptedError:
                continue
            for l in set(r) | set(w):
                if l.state != "idle":
                    l.poll()
        stop[0] = True
        if th:
            th.join(self.timeout + 1)
        for l in self.lanes:
            l.close()
        self.write_progress()
        self.log.close()


def cmd_run(a):
    env = load_env(a.env)
    Client(a, env).run(a.duration)
    return 0


def cmd_load(a):
    """Connection load on a HAProxy port: every connection makes HAProxy ask the router (one SPOE
    NOTIFY per connection); it sends PostgreSQL's SSLRequest, reads the server's one-byte answer
    and closes. --conns loops at most --rate connections per second in all, until SIGTERM or
    --duration. Prints {"done": N, "failed": N} (and writes it to --out)."""
    import asyncio
    import struct

    env = load_env(a.env)
    host, port = env["HAPROXY_HOST"], int(env[a.port_key])
    ssl_request = struct.pack("!ii", 8, 80877103)
    count = {"done": 0, "failed": 0}
    stop = [False]

    async def one():
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), a.timeout)
        try:
            w.write(ssl_request)
            b = await asyncio.wait_for(r.read(1), a.timeout)
            if b not in (b"N", b"S"):
                raise ConnectionError("no answer")
        finally:
            w.close()

    async def loop_one(interval):
        nxt = time.monotonic()
        while not stop[0]:
            try:
                await one()
                count["done"] += 1
            except (OSError, asyncio.TimeoutError, ConnectionError):
                count["failed"] += 1
            nxt = max(nxt + interval, time.monotonic())
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))

    async def main_load():
        aloop = asyncio.get_running_loop()
        aloop.add_signal_handler(signal.SIGTERM, lambda: stop.__setitem__(0, True))
        aloop.add_signal_handler(signal.SIGINT, lambda: stop.__setitem__(0, True))
        if a.duration:
            aloop.call_later(a.duration, lambda: stop.__setitem__(0, True))
        await asyncio.gather(*(loop_one(a.conns / a.rate) for _ in range(a.conns)))

    asyncio.run(main_load())
    out = json.dumps(count)
    print(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(out + "\n")
    return 0


def node_ids(env, node, base, timeout=3):
    """ids in this run's span present on NODE (direct connection), or None when unreachable."""
    try:
        c = psycopg2.connect(host=env[node + "_HOST"], port=env[node + "_PG_PORT"],
                             user=env["PGUSER"], dbname=env["PGDATABASE"],
                             password=env.get("PGPASSWORD") or None, connect_timeout=timeout,
                             options="-c statement_timeout=%d" % (timeout * 1000))
        with c.cursor() as cur:
            cur.execute("SELECT id FROM demo_writes WHERE id >= %s AND id < %s",
                        (base, base + ID_SPAN))
            ids = {r[0] for r in cur.fetchall()}
        c.close()
        return ids
    except psycopg2.Error:
        return None


def cmd_verify(a):
    env = load_env(a.env)
    ops = []
    with open(a.log) as f:
        for line in f:
            line = line.strip()
            if line:
                ops.append(json.loads(line))
    writes = [o for o in ops if o["k"] == "w"]
    https = [o for o in ops if o["k"] == "h"]
    reads = [o for o in ops if o["k"] == "r"]
    final = node_ids(env, a.primary, a.base)
    if final is None:
        print(json.dumps({"scenario": a.scenario, "error": "final primary %s unreachable" % a.primary}))
        return 2
    others = {}
    for n in env["DEMO_PG_NODES"].split():
        if n != a.primary:
            others[n] = node_ids(env, n, a.base)

    acked = [o for o in writes if o["ok"]]
    nonprimary = [o for o in writes if not o["ok"] and o.get("err") == "readonly"]
    lost = []
    for o in acked:
        if o["id"] in final:
            continue
        if o["node"] != a.primary and a.promoted_at and o["t1"] >= a.promoted_at:
            nonprimary.append(o)  # a stale primary acknowledged it
        else:
            lost.append(o)
    # Rows that exist on another node but not on the final primary, acked or not (diagnostic).
    stray = {n: (len(ids - final) if ids is not None else None) for n, ids in others.items()}

    acked.sort(key=lambda o: o["t1"])
    # Longest time without an acknowledged write, the run's start and end included.
    t_start = min((o["t0"] for o in ops), default=0.0)
    stops = [o["t0"] for o in ops if o["k"] == "stop"]
    t_end = min(stops) if stops else max((o["t1"] for o in ops), default=0.0)
    marks = [t_start] + [o["t1"] for o in acked] + [t_end]
    gap, gap_at = 0.0, None
    for prev, cur in zip(marks, marks[1:]):
        if cur - prev > gap:
            gap, gap_at = cur - prev, prev
    promo = None
    if a.promoted_at:
        firsts = [o["t1"] for o in acked if o["node"] == a.primary and o["t1"] >= a.promoted_at]
        if firsts:
            promo = round((min(firsts) - a.promoted_at) * 1000, 1)

    # Read staleness: a read that returned max_id m missed every acked write with id > m;
    # its staleness is how long before the read started the first of those was acknowledged.
    by_id = sorted((o["id"], o["t1"]) for o in acked)
    ids_sorted = [i for i, _ in by_id]
    suffix_min = [0.0] * (len(by_id) + 1)
    suffix_min[len(by_id)] = float("inf")
    for i in range(len(by_id) - 1, -1, -1):
        suffix_min[i] = min(by_id[i][1], suffix_min[i + 1])
    max_stale, stale_n, by_node, max_stale_lane = 0.0, 0, {}, {}
    ok_reads = [o for o in reads if o["ok"]]
    for o in ok_reads:
        by_node[o["node"]] = by_node.get(o["node"], 0) + 1
        k = bisect.bisect_right(ids_sorted, o["max_id"])
        first_missing = suffix_min[k]
        if first_missing < o["t0"]:
            s = (o["t0"] - first_missing) * 1000
            max_stale = max(max_stale, s)
            counted = o["t0"] >= a.stale_after and (not a.stale_lanes or
                                                    o["lane"] in a.stale_lanes.split(","))
            if counted and a.max_stale_ms is not None and s > a.max_stale_ms:
                stale_n += 1
            ls = max_stale_lane.get(o["lane"], 0.0)
            max_stale_lane[o["lane"]] = round(max(ls, s), 1)

    https.sort(key=lambda o: o["t0"])
    herr = [o for o in https if not o["ok"]]
    tail = https[-a.http_tail:] if a.http_tail else []
    res = {
        "scenario": a.scenario,
        "http": len(https),
        "http_errors": len(herr),
        "http_err_window_ms": round((herr[-1]["t1"] - herr[0]["t0"]) * 1000, 1) if herr else 0.0,
        "http_tail_errors": sum(1 for o in tail if not o["ok"]),
        "http_by_node": {},
        "primary": a.primary,
        "writes": len(writes),
        "acked": len(acked),
        "errors": sum(1 for o in writes if not o["ok"] and o["err"] != "timeout"),
        "timeouts": sum(1 for o in writes if not o["ok"] and o["err"] == "timeout"),
        "reached_nonprimary": len(nonprimary),
        "readonly_errors": sum(1 for o in writes if not o["ok"] and o.get("err") == "readonly"),
        "acked_lost": len(lost),
        "unavail_ms": round(gap * 1000, 1),
        "unavail_at": gap_at,
        "promo_to_write_ms": promo,
        "reads": len(reads),
        "read_errors": len(reads) - len(ok_reads),
        "max_stale_ms": round(max_stale, 1),
        "max_stale_ms_by_lane": max_stale_lane,
        "stale_reads": stale_n if a.max_stale_ms is not None else None,
        "reads_by_node": by_node,
        "stray_rows": stray,
        "acks_by_node": {},
        "examples": {"nonprimary": [dict((k, o.get(k)) for k in ("id", "node", "err", "msg"))
                                    for o in nonprimary[:3]],
                     "lost": [dict((k, o.get(k)) for k in ("id", "node", "t1")) for o in lost[:3]]},
    }
    kinds = {}
    for o in writes + reads:
        if not o["ok"]:
            k = "%s %s: %s" % (o["k"], o.get("err"), (o.get("msg") or "")[:80])
            kinds[k] = kinds.get(k, 0) + 1
    res["error_kinds"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:6])
    for o in https:
        if o["ok"]:
            res["http_by_node"][o["node"]] = res["http_by_node"].get(o["node"], 0) + 1
    for o in acked:
        res["acks_by_node"][o["node"]] = res["acks_by_node"].get(o["node"], 0) + 1
    # The scenario's own pass rules (each given only when the runner asks for it).
    viol = []
    if res["reached_nonprimary"]:
        viol.append("%d writes reached a non-primary" % res["reached_nonprimary"])
    if res["acked_lost"]:
        viol.append("%d acknowledged writes lost" % res["acked_lost"])
    if res["http_tail_errors"]:
        viol.append("%d of the last %d HTTP requests failed" % (res["http_tail_errors"], a.http_tail))
    if a.max_stale_ms is not None and stale_n:
        viol.append("%d reads staler than %.0f ms" % (stale_n, a.max_stale_ms))
    if a.resume_node:
        # Writes resume: the first write acknowledged by RESUME_NODE at or after RESUME_AFTER
        # arrives within RESUME_WITHIN seconds.
        lanes = a.resume_lanes.split(",") if a.resume_lanes else None
        t = [o["t1"] for o in acked if o["node"] == a.resume_node and o["t1"] >= a.resume_after and
             (lanes is None or o["lane"] in lanes)]
        res["resume_ms"] = round((min(t) - a.resume_after) * 1000, 1) if t else None
        res["resume_bound_ms"] = round(a.resume_within * 1000)
        if not t:
            viol.append("writes did not resume on %s after %.3f" % (a.resume_node, a.resume_after))
        elif min(t) - a.resume_after > a.resume_within:
            viol.append("writes resumed on %s %.0f ms after %.3f (bound %.0f ms)" % (
                a.resume_node, res["resume_ms"], a.resume_after, a.resume_within * 1000))
    if a.write_tail:
        # The last N writes (by start) all acknowledged: nothing refuses writes at the end.
        tail_w = sorted(writes, key=lambda o: o["t0"])[-a.write_tail:]
        res["write_tail_errors"] = sum(1 for o in tail_w if not o["ok"])
        if len(tail_w) < a.write_tail:
            viol.append("only %d writes in the run (want a tail of %d)" % (len(tail_w), a.write_tail))
        elif res["write_tail_errors"]:
            viol.append("%d of the last %d writes failed" % (res["write_tail_errors"], a.write_tail))
    if a.closed_from:
        # Fail closed: no write started at or after CLOSED_FROM and answered before
        # CLOSED_UNTIL may be acknowledged.
        lanes = a.closed_lanes.split(",") if a.closed_lanes else None
        w = [o for o in acked if o["t0"] >= a.closed_from and o["t1"] <= a.closed_until and
             (lanes is None or o["lane"] in lanes)]
        res["acked_while_closed"] = len(w)
        if w:
            viol.append("%d writes acknowledged (by %s) while routing had to fail closed" % (
                len(w), ",".join(sorted({o["node"] for o in w}))))
    if a.http_ok_after:
        # Every GET started at or after HTTP_OK_AFTER succeeds (a dead node is out of rotation).
        h = [o for o in https if o["t0"] >= a.http_ok_after]
        res["http_after"] = len(h)
        res["http_errors_after"] = sum(1 for o in h if not o["ok"])
        if not h:
            viol.append("no HTTP request after %.3f" % a.http_ok_after)
        elif res["http_errors_after"]:
            viol.append("%d HTTP requests failed after %.3f" % (res["http_errors_after"], a.http_ok_after))
    res["violations"] = viol
    print(json.dumps(res))
    return 1 if viol else 0


def main():
    p = argparse.ArgumentParser(description="failover suite's counting client (see the header)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--env", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--base", type=int, required=True)
    r.add_argument("--progress")
    r.add_argument("--duration", type=float, default=0, help="seconds; 0: until SIGTERM")
    r.add_argument("--write-interval", type=float, default=0.02)
    r.add_argument("--read-interval", type=float, default=0.02)
    r.add_argument("--timeout", type=float, default=3.0)
    r.add_argument("--pool-lifetime", type=float, default=0.0,
                   help="seconds a pooled connection lives (0: until an error)")
    r.add_argument("--http", action="store_true", help="also GET /health through HAProxy's HTTP port")
    r.add_argument("--fresh-lanes", type=int, default=FRESH_LANES,
                   help="lanes for the open-loop fresh-connection writes (bench/failover.sh: enough "
                        "that writes stuck until --timeout never hold up new ones)")
    ld = sub.add_parser("load")
    ld.add_argument("--env", required=True)
    ld.add_argument("--port-key", default="HAPROXY_PG_RO_PORT",
                    help="the cluster.env key of the HAProxy port to load")
    ld.add_argument("--conns", type=int, default=20, help="concurrent connection loops")
    ld.add_argument("--rate", type=float, default=200.0, help="connections per second, in all")
    ld.add_argument("--timeout", type=float, default=2.0)
    ld.add_argument("--duration", type=float, default=0, help="seconds; 0: until SIGTERM")
    ld.add_argument("--out", help="also write the counts here")
    v = sub.add_parser("verify")
    v.add_argument("--env", required=True)
    v.add_argument("--log", required=True)
    v.add_argument("--base", type=int, required=True)
    v.add_argument("--primary", required=True)
    v.add_argument("--promoted-at", type=float, default=0)
    v.add_argument("--scenario", default="")
    v.add_argument("--max-stale-ms", type=float, default=None)
    v.add_argument("--stale-after", type=float, default=0,
                   help="count stale reads only among reads started at or after this epoch")
    v.add_argument("--stale-lanes", default="",
                   help="count stale reads only on these lanes (comma-separated, e.g. r-fresh)")
    v.add_argument("--http-tail", type=int, default=0,
                   help="the last N HTTP requests must all succeed (0: not checked)")
    v.add_argument("--resume-node", default="",
                   help="writes must resume on this node: its first ack at or after --resume-after "
                        "within --resume-within seconds")
    v.add_argument("--resume-after", type=float, default=0)
    v.add_argument("--resume-within", type=float, default=2.0)
    v.add_argument("--resume-lanes", default="",
                   help="count only these write lanes for --resume-node (e.g. w-fresh: new "
                        "connections, which the router decides; a pooled one may stay put)")
    v.add_argument("--write-tail", type=int, default=0,
                   help="the last N writes must all be acknowledged (0: not checked)")
    v.add_argument("--closed-from", type=float, default=0,
                   help="no write started at or after this epoch and answered before "
                        "--closed-until may be acknowledged (routing must fail closed)")
    v.add_argument("--closed-until", type=float, default=0)
    v.add_argument("--closed-lanes", default="",
                   help="apply --closed-from only to these write lanes (comma-separated, e.g. "
                        "w-fresh: new connections, the ones a router decides)")
    v.add_argument("--http-ok-after", type=float, default=0,
                   help="every HTTP request started at or after this epoch must succeed")
    a = p.parse_args()
    return {"run": cmd_run, "load": cmd_load, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
