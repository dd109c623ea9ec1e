#!/usr/bin/python3
"""pg_split_proxy.py LISTEN_UNIX_PATH SERVER_HOST SERVER_PORT [DELAY_S]

A PostgreSQL proxy for tests: passes bytes both ways unchanged, except that a server chunk
ending with ReadyForQuery ('Z', length 5, status) is sent in two writes DELAY_S apart (default
0.05): the query's results first, ReadyForQuery later. A client reading the results as they
come (libpq's async API) sees the query's row in one read and its end in another, as it may
on a loaded machine or over a slow link. Runs until killed; prints "ready" when listening."""
import os
import socket
import sys
import threading
import time

RFQ_LEN = 6  # 'Z' + int32 length 5 + status byte


def pump(src, dst, split, delay):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if split and len(b) > RFQ_LEN and b[-RFQ_LEN:-1] == b"Z\x00\x00\x00\x05":
                dst.sendall(b[:-RFQ_LEN])
                time.sleep(delay)
                dst.sendall(b[-RFQ_LEN:])
            else:
                dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, host, port, delay):
    try:
        server = socket.create_connection((host, port), timeout=5)
    except OSError:
        client.close()
        return
    server.settimeout(None)
    threading.Thread(target=pump, args=(client, server, False, delay), daemon=True).start()
    pump(server, client, True, delay)
    client.close()
    server.close()


def main():
    path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, host, port, delay), daemon=True).start()


if __name__ == "__main__":
    main()
