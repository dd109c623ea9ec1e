#!/usr/bin/python3
"""tests/integration/lib/hold_client.py - writes through HAProxy with a new connection every
INTERVAL (default 20 ms), each in its own thread, until the file STOP exists (or --max-s runs
out), then prints one JSON summary. Used by test_spoa_hold.sh and bench/hold-switchover.sh.

  hold_client.py --host H --port P --stop FILE --log FILE [--interval 0.02] [--max-s 60]
                 [--timeout 10] [--progress FILE] [--user postgres] [--db postgres] [--sql SQL]

Each write: connect (connect_timeout --timeout), run --sql (default: INSERT INTO t DEFAULT VALUES
RETURNING i, host(inet_server_addr()): one row, the new id and the server's address), commit; logged to --log as one JSON line {n, t0, t1, ok, id, server, err,
cls}. cls is the error class: readonly (SQLSTATE 25006 or "read-only": it reached a standby),
conn (connection refused/closed by HAProxy), timeout, sql. Every operation is bounded: connect
and statement by --timeout (statement_timeout), the whole run by --max-s; threads still running
at the end are waited for at most --timeout + 1 s.
--progress FILE is rewritten every 100 ms: {"writes": n, "acked": n, "by_server": {...}}.
Summary: writes, acked, failed, readonly, by_server, errors (class -> count), first_err (a sample
message per class), t_first/t_last.
"""
import argparse
import json
import os
import sys
import threading
import time

import psycopg2


def classify(e):
    code = getattr(e, "pgcode", None)
    msg = str(e)
    if code == "25006" or "read-only" in msg:
        return "readonly"
    if code == "57014" or "timeout" in msg:
        return "timeout"
    if code is None or isinstance(e, psycopg2.OperationalError):
        return "conn"
    return "sql"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--progress")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--max-s", type=float, default=60)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--db", default="postgres")
    ap.add_argument("--sql",
                    default="INSERT INTO t DEFAULT VALUES RETURNING i, host(inet_server_addr())")
    a = ap.parse_args()

    lock = threading.Lock()
    recs = []
    dsn = ("host=%s port=%d user=%s dbname=%s connect_timeout=%d "
           "options='-c statement_timeout=%d'" % (a.host, a.port, a.user, a.db,
                                                 max(1, int(a.timeout)), int(a.timeout * 1000)))

    def one(n):
        r = {"n": n, "t0": time.time(), "ok": False}
        try:
            c = psycopg2.connect(dsn)
            try:
                cur = c.cursor()
                cur.execute(a.sql)
                r["id"], r["server"] = cur.fetchone()
                c.commit()
                r["ok"] = True
            finally:
                c.close()
        except Exception as e:  # every failure is a figure, never a crash of the client
            r["cls"] = classify(e)
            r["err"] = " ".join(str(e).split())[:160]
        r["t1"] = time.time()
        with lock:
            recs.append(r)

    threads = []
    start = time.monotonic()
    nxt = start
    n = 0
    last_prog = 0.0
    while not os.path.exists(a.stop) and time.monotonic() - start < a.max_s:
        now = time.monotonic()
        if now >= nxt:
            t = threading.Thread(target=one, args=(n,), daemon=True)
            t.start()
            threads.append(t)
            n += 1
            nxt += a.interval
            if nxt < now:  # never a burst to catch up: open loop at INTERVAL
                nxt = now + a.interval
        if a.progress and now - last_prog >= 0.1:
            last_prog = now
            with lock:
                by = {}
                for r in recs:
                    if r["ok"]:
                        by[r["server"]] = by.get(r["server"], 0) + 1
                prog = {"writes": n, "done": len(recs), "acked": sum(by.values()),
                        "by_server": by}
            with open(a.progress + ".tmp", "w") as f:
                json.dump(prog, f)
            os.replace(a.progress + ".tmp", a.progress)
        time.sleep(min(0.005, max(0.0, nxt - time.monotonic())))
    end = time.monotonic() + a.timeout + 1
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    with lock:
        done = list(recs)
    done.sort(key=lambda r: r["n"])
    with open(a.log, "w") as f:
        for r in done:
            f.write(json.dumps(r) + "\n")
    by, errors, first_err = {}, {}, {}
    for r in done:
        if r["ok"]:
            by[r["server"]] = by.get(r["server"], 0) + 1
        else:
            errors[r["cls"]] = errors.get(r["cls"], 0) + 1
            first_err.setdefault(r["cls"], r["err"])
    out = {"writes": n, "finished": len(done), "unfinished": n - len(done),
           "acked": sum(by.values()), "failed": sum(errors.values()),
           "readonly": errors.get("readonly", 0), "by_server": by, "errors": errors,
           "first_err": first_err}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
