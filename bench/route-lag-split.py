#!/usr/bin/python3
"""bench/route-lag-split.py WORKDIR - where the time of each trial's PROMO_MS goes, from a work
directory kept by bench/failover.sh -k (or bench/route-lag.sh -k): per measured switchover trial

  promo     the new primary's timeline history file (t=0, as PROMO_MS counts)
  pg_rw     its PostgreSQL logs "archive recovery complete": the promotion is over, it leaves
            recovery (the rest of the time from the history file is PostgreSQL's own: the new
            timeline's WAL segment, the end-of-recovery record, their fsyncs)
  agent     the new primary's agent logs "pg probe: role standby -> primary"
  spoa      haprole-spoa logs "cluster C: writer X -> NEW" (spoa and push routers)
  push      push mode logs "push demo: pg_write/NEW -> ready" (push router)
  routed    HAProxy's first session sent to the new primary, accept + Tw in its log (= ROUTED_MS
            of bench/failover.sh, taken at the trial; "-" in work directories from before it)
  ack       the first write acknowledged by the new primary through HAProxy (= PROMO_MS)
  ack_t0    when that write started (before "spoa": it waited, held or connecting)
  next_t0   the first write started after the router had the new writer (spoa/push line):
            the client's own sampling delay is next_t0 - spoa

all in ms after "promo", from the demo's logs (pg-NODE.log in UTC; agent-NODE.log, spoa.log
in the machine's local time; milliseconds) and the client's operation logs. Prints one row per
trial and the median of each column per router. Not a test: a reading aid for the bench."""
import datetime, glob, json, os, re, sys

work = sys.argv[1]
logs = os.path.join(work, "demo-logs")
TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})( UTC)?")


def stamped(path, pattern):
    """[(epoch seconds, line)] of the lines of <path> matching <pattern>."""
    out = []
    try:
        for line in open(path, errors="replace"):
            if re.search(pattern, line):
                m = TS.match(line)
                if m:
                    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
                    if m.group(2):
                        t = t.replace(tzinfo=datetime.timezone.utc)
                    out.append((t.timestamp(), line.strip()))
    except OSError:
        pass
    return out


def first_after(events, t, within=5.0):
    for e, _ in events:
        if t - 1.0 <= e <= t + within:
            return e
    return None


def med(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


rows = [json.loads(l) for l in open(os.path.join(work, "trials.jsonl")) if l.strip()]
cols = ("pg_rw", "agent", "spoa", "push", "routed", "ack_t0", "next_t0", "ack")
per = {}
print("%-5s %3s %-9s %7s %7s %7s %7s %7s %7s %8s %7s" % (("PATH", "N", "TO") + tuple(c.upper() for c in cols)))
for r in rows:
    if not r.get("ok") or r.get("promo_ms") is None:
        continue
    ops = os.path.join(work, "%s-%s-%d.ops" % (r["path"], r["scenario"], r["trial"]))
    acks = []
    for l in open(ops):
        o = json.loads(l)
        if o.get("k") == "w" and o.get("ok") and o.get("node") == r["to"]:
            acks.append(o)
    if not acks:
        continue
    first = min(acks, key=lambda o: o["t1"])
    promo = first["t1"] - r["promo_ms"] / 1000.0
    v = {"ack": r["promo_ms"], "ack_t0": (first["t0"] - promo) * 1000, "routed": r.get("routed_ms")}
    a = first_after(stamped(os.path.join(logs, "agent-%s.log" % r["to"]), r"role standby -> primary"), promo)
    g = first_after(stamped(os.path.join(logs, "pg-%s.log" % r["to"]), r"archive recovery complete"), promo)
    v["pg_rw"] = (g - promo) * 1000 if g else None
    s = p = None
    if r["path"] in ("spoe", "push"):  # else the SPOA is not running: its log is another run's
        s = first_after(stamped(os.path.join(logs, "spoa.log"), r"writer \S+ -> %s " % re.escape(r["to"])), promo)
    if r["path"] == "push":
        p = first_after(stamped(os.path.join(logs, "spoa.log"), r"pg_write/%s -> ready" % re.escape(r["to"])), promo)
    v["agent"] = (a - promo) * 1000 if a else None
    v["spoa"] = (s - promo) * 1000 if s else None
    v["push"] = (p - promo) * 1000 if p else None
    routed = p or s
    if routed:
        later = [l for l in (json.loads(x) for x in open(ops)) if l.get("k") == "w" and l["t0"] >= routed]
        v["next_t0"] = (min(o["t0"] for o in later) - promo) * 1000 if later else None
    else:
        v["next_t0"] = None
    per.setdefault(r["path"], []).append(v)
    f = lambda x: "-" if x is None else "%.1f" % x
    print("%-5s %3d %-9s %7s %7s %7s %7s %7s %7s %8s %7s" % ((r["path"], r["trial"], r["to"]) + tuple(f(v[c]) for c in cols)))
print()
print("median, ms after the history file:")
for path, vs in per.items():
    print("  %-5s n=%d " % (path, len(vs)) + " ".join("%s=%s" % (c, "-" if med([x[c] for x in vs]) is None else "%.1f" % med([x[c] for x in vs])) for c in cols))
