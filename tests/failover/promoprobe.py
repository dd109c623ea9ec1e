#!/usr/bin/python3
"""tests/failover/promoprobe.py - when does each PostgreSQL node accept writes? Observed directly,
independent of HAProxy (issue 14: "promotion" is the moment the new primary first accepts a
write).

  promoprobe.py run --env .demo/cluster.env --log FILE [--interval 0.01] [--timeout 1]

One thread per PostgreSQL node of the demo (DEMO_PG_NODES, N_HOST, N_PG_PORT): over one
persistent direct connection (reconnected after any error), every --interval it runs a write
that needs a primary and no standby: `SELECT txid_current()` with synchronous_commit = local
(assigning a transaction id fails on a standby: "cannot assign TransactionIds during
recovery"; the commit does not wait for a synchronous standby), skipped while
pg_is_in_recovery() (the same condition, without an error in the standby's log). It appends one JSON line to
FILE each time a node's answer changes: {"node": N, "t": EPOCH, "writable": true|false, "why":
...}; t is when the write that showed the change was sent for "writable": true (so the
moment is never later than the truth by more than one interval) and when it was answered for
false. Runs until SIGTERM.

  promoprobe.py first --log FILE --node N --after EPOCH

prints the first time N became writable at or after EPOCH (empty and exit 1: never).
"""
import argparse
import json
import signal
import sys
import threading
import time

import psycopg2


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


def probe(node, dsn, a, out, lock, stop):
    conn = None
    last = None
    while not stop.is_set():
        t0 = time.time()
        ok, why = False, ""
        try:
            if conn is None:
                conn = psycopg2.connect(dsn, connect_timeout=max(1, int(a.timeout)),
                                        options="-c statement_timeout=%d" % int(a.timeout * 1000))
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("SET synchronous_commit = local")
            with conn.cursor() as cur:
                # On a standby: NULL, not an error (an error every 10 ms would flood its log).
                cur.execute("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE txid_current() END")
                ok = cur.fetchone()[0] is not None
            why = "" if ok else "in recovery"
        except psycopg2.Error as e:
            why = (str(e).strip().splitlines() or ["?"])[0][:120]
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
        t1 = time.time()
        if ok != last:
            with lock:
                out.write(json.dumps({"node": node, "t": t0 if ok else t1, "writable": ok,
                                      "why": why}) + "\n")
                out.flush()
            last = ok
        stop.wait(max(0.0, a.interval - (time.time() - t0)))


def cmd_run(a):
    env = load_env(a.env)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lock = threading.Lock()
    out = open(a.log, "a")
    ths = []
    for n in env["DEMO_PG_NODES"].split():
        dsn = "host=%s port=%s user=%s dbname=%s application_name=promoprobe" % (
            env[n + "_HOST"], env[n + "_PG_PORT"], env["PGUSER"], env["PGDATABASE"])
        th = threading.Thread(target=probe, args=(n, dsn, a, out, lock, stop), daemon=True)
        th.start()
        ths.append(th)
    while not stop.is_set():
        stop.wait(0.5)
    for th in ths:
        th.join(a.timeout + 2)
    out.close()
    return 0


def cmd_first(a):
    with open(a.log) as f:
        ev = [json.loads(l) for l in f if l.strip()]
    ts = [e["t"] for e in ev if e["node"] == a.node and e["writable"] and e["t"] >= a.after]
    if not ts:
        return 1
    print("%.6f" % min(ts))
    return 0


def main():
    p = argparse.ArgumentParser(description="direct write probe of every demo PostgreSQL node")
    sub = p.add_subparsers(dest="cmd")
    r = sub.add_parser("run")
    r.add_argument("--env", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--interval", type=float, default=0.01)
    r.add_argument("--timeout", type=float, default=1.0)
    f = sub.add_parser("first")
    f.add_argument("--log", required=True)
    f.add_argument("--node", required=True)
    f.add_argument("--after", type=float, required=True)
    a = p.parse_args()
    if a.cmd == "run":
        return cmd_run(a)
    if a.cmd == "first":
        return cmd_first(a)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
