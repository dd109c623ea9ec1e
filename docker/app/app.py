#!/usr/bin/python3
"""docker/app/app.py - the demo's tiny application server (one per app node, behind nginx).

It stands in for the product's app server: it reads and writes PostgreSQL THROUGH HAProxy
(writes on HAPROXY_PG_PORT, reads on HAPROXY_PG_RO_PORT), so what a user sees from
`curl http://HAPROXY:HTTP_PORT/` is what HAProxy's routing did.

  GET  /        read through the read port: which node answered, rows, last id (JSON)
  POST /write   insert one row through the write port (JSON: id, node that took it)
  GET  /health  200 "ok" without touching the database (the agent's app probe)

Usage: app.py --listen 127.0.0.1:8080 --node app1 --db-host 198.18.0.1 --write-port 24000
              --read-port 24001 --user demo --dbname demo
Run with /usr/bin/python3 (Debian's, which has python3-psycopg2).
"""
import argparse
import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

ARGS = None


def db(port):
    """One short connection per request: the app must follow HAProxy's routing at once."""
    return psycopg2.connect(host=ARGS.db_host, port=port, user=ARGS.user, dbname=ARGS.dbname,
                            password=ARGS.password or None, connect_timeout=3,
                            application_name="demo-app-" + ARGS.node)


class Handler(BaseHTTPRequestHandler):
    server_version = "haprole-demo-app/1"

    def log_message(self, fmt, *a):  # one line per request on stderr, like nginx's access log
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def reply(self, code, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"app": ARGS.node, "status": "ok"})
        if self.path not in ("/", "/read"):
            return self.reply(404, {"error": "not found", "try": ["/", "/health", "POST /write"]})
        t0 = time.monotonic()
        try:
            with db(ARGS.read_port) as c, c.cursor() as cur:
                cur.execute("SELECT current_setting('haprole_demo.node', true), "
                            "pg_is_in_recovery(), count(*), coalesce(max(id), 0) FROM demo_writes")
                node, standby, rows, last = cur.fetchone()
            c.close()
        except psycopg2.Error as e:
            return self.reply(503, {"app": ARGS.node, "error": str(e).strip()})
        self.reply(200, {"app": ARGS.node, "db_node": node,
                         "db_role": "standby" if standby else "primary", "rows": rows,
                         "last_id": last, "ms": round((time.monotonic() - t0) * 1000, 1)})

    def do_POST(self):
        if self.path != "/write":
            return self.reply(404, {"error": "not found", "try": ["POST /write"]})
        t0 = time.monotonic()
        try:
            with db(ARGS.write_port) as c, c.cursor() as cur:
                cur.execute("INSERT INTO demo_writes (src) VALUES (%s) RETURNING id, node",
                            ("app:" + ARGS.node,))
                rid, node = cur.fetchone()
            c.close()
        except psycopg2.Error as e:
            return self.reply(503, {"app": ARGS.node, "error": str(e).strip()})
        self.reply(200, {"app": ARGS.node, "id": rid, "db_node": node,
                         "ms": round((time.monotonic() - t0) * 1000, 1)})


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:8080", help="ADDR:PORT to serve on")
    p.add_argument("--node", required=True, help="this app node's name (shown in replies)")
    p.add_argument("--db-host", required=True, help="HAProxy's address")
    p.add_argument("--write-port", type=int, required=True, help="HAProxy's write port")
    p.add_argument("--read-port", type=int, required=True, help="HAProxy's read port")
    p.add_argument("--user", default="demo")
    p.add_argument("--dbname", default="demo")
    p.add_argument("--password", default="")
    ARGS = p.parse_args()
    host, port = ARGS.listen.rsplit(":", 1)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("app %s listening on %s\n" % (ARGS.node, ARGS.listen))
    srv.serve_forever()


if __name__ == "__main__":
    main()
