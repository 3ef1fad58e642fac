#!/usr/bin/python3
"""A second HTTP/2 implementation (Python's hyper-h2, Debian's python3-h2) at either end of an HBONE tunnel, so the
node proxy's CONNECT framing is checked against code that is not the lab's own.

client: opens mutual TLS + HTTP/2 to --connect, sends CONNECT with --authority, then --count messages on the stream
        and expects each echoed back; prints "ok <bytes>".
server: listens with mutual TLS + HTTP/2, prints "listening on HOST:PORT", answers every CONNECT with 200 and echoes
        the stream's DATA; prints "request <method> <authority> <other pseudo-headers>" per stream; ends when its one
        connection closes.

Header validation is off on both sides: h2 4.1 (Debian bookworm's) asks every request for :scheme and :path, which a
CONNECT must not carry (RFC 9113 section 8.5); the framing, HPACK and flow control are still h2's own. The server
prints the pseudo-headers it got, so the test checks them itself.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events


def tls_context(args, server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if not server:
        ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    return ctx


def pump(sock, conn):
    data = conn.data_to_send()
    if data:
        sock.sendall(data)


def client(args):
    host, port = args.connect.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=10)
    sock = tls_context(args, False).wrap_socket(raw)
    assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False, validate_inbound_headers=False))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "CONNECT"), (":authority", args.authority)])
    pump(sock, conn)
    status = None
    echoed = bytearray()
    expected = bytearray()
    sent = 0
    while True:
        if status == "200" and sent < args.count and len(echoed) == len(expected):
            message = os.urandom(1 + (sent * 997) % 3000)
            expected += message
            conn.send_data(stream, message)
            sent += 1
            pump(sock, conn)
        if status == "200" and sent == args.count and len(echoed) == len(expected):
            break
        data = sock.recv(65536)
        if not data:
            print(f"closed: status {status}, {len(echoed)} of {len(expected)} bytes back")
            return 1
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict((k.decode(), v.decode()) for k, v in event.headers).get(":status")
                if status != "200":
                    print(f"refused: status {status}")
                    return 1
            elif isinstance(event, h2.events.DataReceived):
                echoed += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                print("reset")
                return 1
        pump(sock, conn)
    if echoed != expected:
        print("changed")
        return 1
    conn.end_stream(stream)
    pump(sock, conn)
    print(f"ok {len(echoed)}")
    return 0


def server(args):
    host, port = args.listen.rsplit(":", 1)
    listener = socket.socket()
    listener.bind((host, int(port)))
    listener.listen(1)
    print(f"listening on {host}:{listener.getsockname()[1]}", flush=True)
    raw, _ = listener.accept()
    sock = tls_context(args, True).wrap_socket(raw, server_side=True)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=False, validate_outbound_headers=False, validate_inbound_headers=False))
    conn.initiate_connection()
    pump(sock, conn)
    while True:
        data = sock.recv(65536)
        if not data:
            return 0
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = dict((k.decode(), v.decode()) for k, v in event.headers)
                others = sorted(k for k in headers if k.startswith(":") and k not in (":method", ":authority"))
                print(f"request {headers.get(':method')} {headers.get(':authority')} {','.join(others) or '-'}",
                      flush=True)
                conn.send_headers(event.stream_id, [(":status", "200")])
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.data:
                    conn.send_data(event.stream_id, event.data)
            elif isinstance(event, h2.events.StreamEnded):
                try:
                    conn.end_stream(event.stream_id)
                except Exception:
                    pass
        pump(sock, conn)


def die_with_parent():
    """Ends this helper when the test process that started it is gone, even by a crash, so a crashed test run leaves
    no server holding its output pipe open. Polled, not prctl(PR_SET_PDEATHSIG): that signal follows the thread that
    spawned the helper, and the test's thread may be a pool thread that ends while the test goes on."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main():
    die_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["client", "server"])
    parser.add_argument("--connect")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--authority")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    return client(args) if args.mode == "client" else server(args)


if __name__ == "__main__":
    sys.exit(main())
