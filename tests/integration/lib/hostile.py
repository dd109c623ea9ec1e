#!/usr/bin/env python3
"""tests/integration/lib/hostile.py - hostile peers against one haprole listener, with a
well-behaved client served meanwhile (tests/integration/test_hostile.sh drives it).

    hostile.py KIND ADDR ATTACK [--pid PID] [--seconds S]

KIND: agent (the agent port: agent-check lines and HTTP), admin (the agent's admin unix
socket, ADDR a path), spop (haprole-spoa's SPOP port), status (haprole-spoa's status HTTP).
ATTACK: garbage, long-line, headers, slowloris, idle, half-close, and for spop also
lying-length, notify-first, no-hello.

For the attack's duration a good client (the dialect's own request: an agent-check line,
`status`, HELLO + NOTIFY, GET /metrics) runs every 50 ms; each must be answered. Prints one
line per fact and ends with "RESULT ok" or "RESULT fail: why"; exit 0 / 1. The bad peers must
be closed or answered with an error within the bound. Peak RSS (VmHWM) of --pid is printed.
Every loop is bounded in count and time; every socket is closed at the end.
"""
import os
import random
import resource
import socket
import struct
import sys
import threading
import time

KIND, ADDR, ATTACK = sys.argv[1], sys.argv[2], sys.argv[3]
PID = None
SECONDS = 4.0
args = sys.argv[4:]
while args:
    if args[0] == "--pid":
        PID = int(args[1])
    elif args[0] == "--seconds":
        SECONDS = float(args[1])
    args = args[2:]

failures = []


def fact(msg):
    print(msg, flush=True)


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def connect(timeout=2.0):
    if KIND == "admin":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(ADDR)
        return s
    host, port = ADDR.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


# ---- SPOP (SPOE.txt 3.2) ------------------------------------------------------------------
def varint(v):
    if v < 240:
        return bytes([v])
    out = [(v | 240) & 0xFF]
    v = (v - 240) >> 4
    while v >= 128:
        out.append((v | 128) & 0xFF)
        v >>= 7
    out.append(v)
    return bytes(out)


def spop_str(s):
    b = s.encode()
    return varint(len(b)) + b


def kv_str(k, v):
    return spop_str(k) + bytes([8]) + spop_str(v)


def kv_u32(k, v):
    return spop_str(k) + bytes([3]) + varint(v)


def frame(ftype, stream, fid, payload):
    body = bytes([ftype]) + struct.pack(">I", 1) + varint(stream) + varint(fid) + payload
    return struct.pack(">I", len(body)) + body


def hello():
    return frame(1, 0, 0, kv_str("supported-versions", "2.0") + kv_u32("max-frame-size", 16380)
                 + kv_str("capabilities", "pipelining"))


def notify(stream, fid):
    msg = spop_str("haprole-route") + bytes([2]) + kv_str("cluster", "main") + kv_str("intent", "write")
    return frame(3, stream, fid, msg)


def read_frame(s):
    hdr = recv_exact(s, 4)
    if hdr is None:
        return None
    n = struct.unpack(">I", hdr)[0]
    if n > 1 << 20:
        return None
    return recv_exact(s, n)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            return None
        buf += d
    return buf


# ---- the good client --------------------------------------------------------------------
good_retries = 0


def good_once():
    """One well-behaved exchange; returns its latency in ms, raises on failure. On the admin
    socket it asks again, as haprolectl does (ctl/fetch.c), when the agent closed the
    connection before a byte of answer: its eviction of the oldest idle client can hit a client
    that had not written its command yet."""
    global good_retries
    t0 = time.monotonic()
    for attempt in range(3 if KIND == "admin" else 1):
        try:
            return good_exchange(t0)
        except (BrokenPipeError, ConnectionResetError, NoAnswer):
            if attempt == 2 or KIND != "admin":
                raise
            good_retries += 1


class NoAnswer(RuntimeError):
    pass


def good_exchange(t0):
    for attempt in range(3):
        try:
            s = connect(2.0)
            break
        except BlockingIOError:
            # a unix socket whose listen backlog is full refuses the connect at once (the
            # kernel, before the daemon sees it); haprolectl's user would run it again
            if KIND != "admin" or attempt == 2:
                raise
            time.sleep(0.05)
    try:
        if KIND == "agent":
            s.sendall(b"writer\n")
            d = s.recv(256)
            if not d or b"\n" not in d:
                raise RuntimeError("no agent-check line: %r" % d)
        elif KIND == "admin":
            s.sendall(b"status\n")
            d = s.recv(4096)
            if not d:
                raise NoAnswer("no answer to status")
        elif KIND == "status":
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            d = s.recv(64)
            if not d.startswith(b"HTTP/1."):
                raise RuntimeError("no HTTP answer: %r" % d)
        else:
            s.sendall(hello())
            f = read_frame(s)
            if f is None or f[0] != 101:
                raise RuntimeError("no AGENT-HELLO: %r" % (f[:8] if f else f))
            s.sendall(notify(1, 1))
            f = read_frame(s)
            if f is None or f[0] != 103:
                raise RuntimeError("no ACK: %r" % (f[:8] if f else f))
        return (time.monotonic() - t0) * 1e3
    finally:
        s.close()


good_lat = []
good_err = []
stop = threading.Event()


def good_loop():
    n = 0
    while not stop.is_set() and n < 2000:
        n += 1
        try:
            good_lat.append(good_once())
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            good_err.append(str(e))
        time.sleep(0.05)


# ---- the attacks ------------------------------------------------------------------------
def closed_or_error(s, bound):
    """Reads until EOF/reset or the bound; returns (closed, bytes received)."""
    s.settimeout(0.2)
    got = b""
    end = time.monotonic() + bound
    while time.monotonic() < end and len(got) < 1 << 20:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return True, got
        if not d:
            return True, got
        got += d
    return False, got


def send_all_tolerant(s, data):
    try:
        s.sendall(data)
        return True
    except OSError:
        return False  # the peer closed on us while we sent: that is an answer too


def attack_garbage():
    rnd = random.Random(7)
    for i in range(5):
        s = connect()
        send_all_tolerant(s, bytes(rnd.getrandbits(8) for _ in range(65536)))
        closed, got = closed_or_error(s, 5)
        s.close()
        if not closed:
            fail("garbage #%d: connection still open after 5 s" % i)
            return
    fact("garbage: 5 x 64 KiB of random bytes, each connection closed (answer %r...)" % got[:40])


def attack_long_line():
    s = connect()
    ok = send_all_tolerant(s, b"A" * (1 << 20))
    closed, got = closed_or_error(s, 5)
    s.close()
    if not closed:
        fail("1 MiB line: connection still open after 5 s")
    else:
        fact("1 MiB line: closed after %s, answer %r" % ("the whole line" if ok else "part of it", got[:60]))


def attack_headers():
    s = connect()
    req = b"GET /status HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(200)) + b"\r\n"
    send_all_tolerant(s, req)
    closed, got = closed_or_error(s, 5)
    s.close()
    if not closed:
        fail("200 headers: connection still open after 5 s")
    else:
        fact("200 headers: closed, answer %r" % got.split(b"\r\n")[0][:60])


def attack_slowloris():
    conns = []
    for _ in range(50):
        try:
            conns.append(connect())
        except OSError:
            break
    payload = {"spop": hello(), "admin": b"status\n"}.get(KIND, b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    i = 0
    open_conns = list(conns)
    while open_conns and time.monotonic() - t0 < SECONDS + 6 and i < len(payload):
        for s in list(open_conns):
            try:
                s.send(payload[i:i + 1])
            except OSError:
                open_conns.remove(s)
        i += 1
        time.sleep(1.0)
    closed = len(conns) - len(open_conns)
    # the rest: are they closed by the server now?
    for s in open_conns:
        c, _ = closed_or_error(s, 0.3)
        closed += c
    for s in conns:
        s.close()
    fact("slowloris: %d connections at 1 byte/s for %.0f s: %d closed by the server" % (len(conns), time.monotonic() - t0, closed))
    # the admin socket (local, mode 0660) waits for a line as long as bytes keep coming; its
    # defence is the eviction of the oldest waiting client, shown by the good client
    if closed < len(conns) and KIND != "admin":
        fail("slowloris: %d connections still open after %.0f s" % (len(conns) - closed, time.monotonic() - t0))


IDLE_BURST = 32


def attack_idle():
    conns = []
    want = 10000 if KIND != "admin" else 500
    t0 = time.monotonic()
    refused = 0
    while len(conns) + refused < want and time.monotonic() - t0 < 20:
        try:
            conns.append(connect(1.0))
        except OSError:
            refused += 1
        # Bursts well under the daemons' max_clients (256), each followed by a pause that
        # lets the good client's thread take the GIL: otherwise this thread could open 256
        # connections between the good client's connect and its send (a delay no C client
        # has), and the daemon would rightly evict the good client as the oldest idle one.
        if (len(conns) + refused) % IDLE_BURST == 0:
            time.sleep(0.005)
    fact("idle: %d connections opened and left idle (%d refused at connect) in %.1f s" % (len(conns), refused, time.monotonic() - t0))
    time.sleep(SECONDS)
    for s in conns:
        s.close()


def attack_half_close():
    for i in range(20):
        s = connect()
        if i % 2:
            send_all_tolerant(s, {"spop": hello()[:7], "admin": b"sta"}.get(KIND, b"GET /sta"))
        s.shutdown(socket.SHUT_WR)
        closed, _ = closed_or_error(s, 5)
        s.close()
        if not closed:
            fail("half-close #%d: not closed within 5 s" % i)
            return
    fact("half-close: 20 connections shut for writing (half with a partial request): all closed")


def attack_lying_length():
    # a length far above max-frame-size, then a length shorter than its frame's metadata
    for name, data in (("length 16 MiB", struct.pack(">I", 16 << 20) + b"\x01" * 64),
                       ("length 2, garbage after", struct.pack(">I", 2) + b"\x01\x00\x00\x00\x00\x00\x00")):
        s = connect()
        send_all_tolerant(s, data)
        closed, got = closed_or_error(s, 5)
        s.close()
        if not closed:
            fail("lying length (%s): still open after 5 s" % name)
            return
        fact("lying length (%s): closed, %d bytes answered (AGENT-DISCONNECT: %s)" % (name, len(got), got[4:5] == b"\x66"))


def attack_notify_first():
    s = connect()
    send_all_tolerant(s, notify(1, 1))
    closed, got = closed_or_error(s, 5)
    s.close()
    if not closed:
        fail("NOTIFY before HELLO: still open after 5 s")
    else:
        fact("NOTIFY before HELLO: closed (AGENT-DISCONNECT sent: %s)" % (got[4:5] == b"\x66"))


def attack_no_hello():
    conns = [connect() for _ in range(100)]
    t0 = time.monotonic()
    closed = 0
    for s in conns:
        c, _ = closed_or_error(s, max(0.1, 8 - (time.monotonic() - t0)))
        closed += c
        s.close()
    fact("HELLO that never comes: %d of 100 closed by the server within %.1f s" % (closed, time.monotonic() - t0))
    if closed < 100:
        fail("HELLO that never comes: %d connections still open" % (100 - closed))


ATTACKS = {
    "garbage": attack_garbage, "long-line": attack_long_line, "headers": attack_headers,
    "slowloris": attack_slowloris, "idle": attack_idle, "half-close": attack_half_close,
    "lying-length": attack_lying_length, "notify-first": attack_notify_first,
    "no-hello": attack_no_hello,
}


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    good_once()  # the listener answers before the attack
    g = threading.Thread(target=good_loop, daemon=True)
    g.start()
    t0 = time.monotonic()
    ATTACKS[ATTACK]()
    # the good client keeps going a little after the attack, then stops
    time.sleep(0.5)
    stop.set()
    g.join(10)
    lat = sorted(good_lat)
    if lat:
        fact("good client: %d answered during %.1f s, latency p50 %.1f ms, max %.1f ms%s"
             % (len(lat), time.monotonic() - t0, lat[len(lat) // 2], lat[-1],
                ", %d asked again after an eviction" % good_retries if KIND == "admin" else ""))
    if good_err:
        fail("good client: %d failed (first: %s)" % (len(good_err), good_err[0]))
    if not lat:
        fail("good client: never answered")
    if PID:
        with open("/proc/%d/status" % PID) as f:
            for line in f:
                if line.startswith("VmHWM") or line.startswith("VmRSS"):
                    fact("daemon %s %s" % (line.split(":")[0], line.split(":")[1].strip()))
    print("RESULT " + ("ok" if not failures else "fail: " + "; ".join(failures)), flush=True)
    sys.exit(0 if not failures else 1)


main()
