#!/usr/bin/python3
"""A loopback TLS relay for the SDK suite: the Azure SDKs send bearer tokens over https only,
and the stand-ins speak plain http.  One process, one thread per connection direction, so the
suite stops it with one kill of its pid.

    tls-relay.py CERT KEY LISTEN_PORT:BACKEND_PORT...

Every listener binds 127.0.0.1 and forwards to 127.0.0.1:BACKEND_PORT.  Prints "ready" once
all listeners are bound.
"""
import socket
import ssl
import sys
import threading


def pump(src, dst, done):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        # Either side ending ends the connection: HTTP needs no half-close here.
        if not done.is_set():
            done.set()
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def handle(conn, ctx, backend):
    try:
        conn.settimeout(10)
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(None)
        up = socket.create_connection(("127.0.0.1", backend), timeout=10)
        up.settimeout(None)
    except OSError:
        conn.close()
        return
    done = threading.Event()
    threading.Thread(target=pump, args=(up, tls, done), daemon=True).start()
    pump(tls, up, done)


def listen(port, ctx, backend):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)

    def accept_loop():
        while True:
            conn, _ = ls.accept()
            threading.Thread(target=handle, args=(conn, ctx, backend), daemon=True).start()

    return threading.Thread(target=accept_loop, daemon=True)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(argv[1], argv[2])
    loops = []
    for pair in argv[3:]:
        lport, bport = (int(x) for x in pair.split(":"))
        loops.append(listen(lport, ctx, bport))
    for t in loops:
        t.start()
    print("ready", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
